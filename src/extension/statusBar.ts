// Status bar item with the cache state, or the last failure until a request succeeds. Clicking refreshes a missing
// or stale cache, otherwise opens the sidebar (which shows a failure with the buttons that lead to its fix).
import * as vscode from 'vscode';
import type { ViewStatus } from '../webview/messages.ts';

/** A failure shows until a request succeeds; a build in progress shows its progress instead. */
export function showsFailure(s: ViewStatus): boolean {
  return !!s.failure && s.state !== 'building';
}

export function statusText(s: ViewStatus): { text: string; tooltip: string } {
  if (showsFailure(s)) {
    return { text: '$(error) KVzip: failed', tooltip: `${s.failure!.what} ${s.failure!.message}\nClick to open KVzip Code.` };
  }
  switch (s.state) {
    case 'none':
      return { text: '$(database) KVzip: no cache', tooltip: `No cache for ${s.model} yet. Click to build it.` };
    case 'building':
      // The same words as the notification and the sidebar's Step (core/progressWords.ts).
      return {
        text: `$(sync~spin) KVzip: ${s.phase ?? 'Starting'}`,
        tooltip: `${s.phase ?? 'Starting the build'}. Click to open KVzip Code.`,
      };
    case 'stale':
      return {
        text: '$(warning) KVzip: stale',
        tooltip: 'Files changed since the cache was built. Answers still use the old cache. Click to refresh.',
      };
    case 'fresh':
      return {
        text: '$(check) KVzip',
        tooltip: `Cache is fresh (${s.model}${s.device ? `, ${s.device}` : ''}). Click to open KVzip Code.`,
      };
  }
}

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('kvzipCode.status', vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = 'KVzip Code';
    this.item.command = 'kvzipCode.statusBarClick';
  }

  update(s: ViewStatus): void {
    if (!s.workspace) return void this.item.hide();
    const { text, tooltip } = statusText(s);
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.backgroundColor = showsFailure(s)
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : s.state === 'stale'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
