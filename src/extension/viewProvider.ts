// The sidebar webview view. The host keeps the conversation, so the view can be hidden, moved or recreated and
// still show it; the page itself is untrusted (it renders model output), so every message from it is validated.
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { parseViewMessage, type HostMessage, type ViewCommand, type ViewMessage } from '../webview/messages.ts';
import type { Controller } from './controller.ts';
import type { Quote } from '../engine/protocol.ts';
import { quoteLabel } from '../engine/attach.ts';
import { resolveContextPath } from './links.ts';
import { contextFolders } from './settings.ts';
import { runFailureAction } from './failureActions.ts';

export const VIEW_ID = 'kvzipCode.sidebar';

export class SidebarProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Messages the webview rejected or that failed validation; exposed for tests. */
  rejected = 0;
  /** The selection the focus shortcut put with the next question, until it is asked or removed. */
  private attachment: Quote | undefined;
  /** The page has loaded and listens; before that a focus request waits for its 'ready'. */
  private ready = false;
  private focusOnReady = false;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly controller: Controller,
    private readonly log: (line: string) => void,
  ) {
    this.disposables.push(
      controller.onDidChangeStatus((status) => this.post({ type: 'status', status })),
      controller.onMessage((m) => this.post(m)),
    );
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  get visible(): boolean {
    return !!this.view?.visible;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: [media, dist] };
    this.ready = false;
    view.webview.html = this.html(view.webview, media, dist);
    const sub = view.webview.onDidReceiveMessage((raw: unknown) => {
      const m = parseViewMessage(raw);
      if (!m) {
        this.rejected++;
        this.log(`webview: ignored an invalid message`);
        return;
      }
      void this.handle(m).catch((err: unknown) => this.log(`webview: ${String(err)}`));
    });
    // The user opened the view to ask: the model and the cache open now, while the question is typed.
    this.controller.warm();
    const shown = view.onDidChangeVisibility(() => view.visible && this.controller.warm());
    view.onDidDispose(() => {
      sub.dispose();
      shown.dispose();
      if (this.view === view) {
        this.view = undefined;
        this.ready = false;
      }
    });
  }

  /**
   * Shows the view with the focus in the question box; a selection goes with the next question (the box shows it
   * as a chip that can be removed).
   */
  async focusQuestion(selection?: Quote): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    if (selection) this.attachment = selection;
    // A view opened just now has not loaded its page yet: it takes the focus when it says it is ready.
    if (this.ready) this.postFocus();
    else this.focusOnReady = true;
  }

  private postFocus(): void {
    this.post({ type: 'focus', ...(this.attachment ? { attachment: this.label(this.attachment) } : {}) });
  }

  private label(q: Quote): string {
    return q.path && q.lines ? quoteLabel({ path: q.path, lines: q.lines }) : 'the selection';
  }

  /** Shows the view and asks a question in it. */
  async ask(question: string, quote?: Quote): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    await this.controller.ask(question, quote);
  }

  private async handle(m: ViewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.post({ type: 'init', status: this.controller.current, turns: this.controller.turns });
        this.controller.postConversations();
        if (this.focusOnReady) this.postFocus();
        else if (this.attachment) this.post({ type: 'attachment', label: this.label(this.attachment) });
        this.focusOnReady = false;
        return;
      case 'ask': {
        const quote = this.attachment;
        this.attachment = undefined;
        if (quote) this.post({ type: 'attachment' });
        await this.controller.ask(m.question, quote);
        return;
      }
      case 'dropAttachment':
        this.attachment = undefined;
        return;
      case 'dismissFailure':
        this.controller.dismissFailure();
        return;
      case 'openConversation':
        if (!this.controller.openConversation(m.id)) void vscode.window.showWarningMessage('KVzip: that conversation is no longer kept.');
        return;
      case 'command':
        await this.command(m.command, m.setting);
        return;
      case 'stop':
        this.controller.stop();
        return;
      case 'build':
        await vscode.commands.executeCommand('kvzipCode.build');
        return;
      case 'newConversation':
        this.controller.newConversation();
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(m.text);
        return;
      case 'insert':
        await this.insert(m.text);
        return;
      case 'openFile':
        await this.openFile(m.path, m.line);
        return;
      case 'openLink':
        await vscode.env.openExternal(vscode.Uri.parse(m.href, true));
        return;
    }
  }

  private async command(command: ViewCommand, setting?: string): Promise<void> {
    switch (command) {
      case 'chooseModel':
      case 'openSettings':
      case 'showOutput':
        return runFailureAction(command, setting);
      case 'showContext':
        await vscode.commands.executeCommand('kvzipCode.showContext');
        return;
      case 'history':
        await vscode.commands.executeCommand('kvzipCode.history');
        return;
    }
  }

  /** Puts a code block at the cursor (every cursor) of the editor last used. */
  private async insert(text: string): Promise<void> {
    const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
    if (!editor) {
      void vscode.window.showWarningMessage('KVzip: open a file to insert the code into.');
      return;
    }
    await editor.edit((e) => editor.selections.forEach((sel) => e.replace(sel, text)));
    await vscode.window.showTextDocument(editor.document, editor.viewColumn);
  }

  private async openFile(candidate: string, line?: number): Promise<void> {
    // With several folders open, the context's paths (and so the answers' and the chips') start with the folder's name.
    const folders = contextFolders((vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file'));
    const file = await resolveContextPath(folders, candidate);
    if (!file) {
      void vscode.window.showWarningMessage(`KVzip: "${candidate}" is not a file in this workspace.`);
      return;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const at = Math.min(Math.max(0, (line ?? 1) - 1), Math.max(0, doc.lineCount - 1));
    const pos = new vscode.Position(at, 0);
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos), preview: true, viewColumn: vscode.ViewColumn.One });
  }

  private post(m: HostMessage): void {
    void this.view?.webview.postMessage(m);
  }

  private html(webview: vscode.Webview, media: vscode.Uri, dist: vscode.Uri): string {
    const nonce = randomBytes(18).toString('base64');
    const css = webview.asWebviewUri(vscode.Uri.joinPath(media, 'sidebar.css'));
    const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js'));
    // Nothing remote: styles and the script come from the extension only, and the script must carry the nonce.
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource} data:`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<title>KVzip Code</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
