// The go-ahead before a first build: the context preview runs (seconds; for a preset not downloaded yet it fetches
// only the config and tokenizer files), and a build that downloads weights or is estimated over two minutes waits
// for a modal dialog with the estimate. A smaller setting picked there is saved and the estimate shown again.
import * as vscode from 'vscode';
import type { ContextPreview } from '../engine/protocol.ts';
import { confirmationText, needsConfirmation, smallerSettings } from './buildCost.ts';
import type { Controller } from './controller.ts';
import { ACTION_LABEL } from '../webview/messages.ts';
import { failureOf } from './errors.ts';
import { runFailureAction } from './failureActions.ts';
import { SECTION, readSettings } from './settings.ts';

export class BuildConfirmation {
  private pending: Promise<boolean> | undefined;

  constructor(
    private readonly controller: Controller,
    private readonly log: (line: string) => void,
  ) {}

  /** True when the build may start: it is small, or the user said so. One dialog at a time: a second call shares it. */
  confirm(): Promise<boolean> {
    this.pending ??= this.run().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async run(): Promise<boolean> {
    for (;;) {
      let preview: ContextPreview | undefined;
      try {
        preview = await vscode.window.withProgress(
          {
            location: vscode.ProgressLocation.Notification,
            title: 'KVzip: estimating the build (what goes in, memory, time)',
            cancellable: true,
          },
          (_progress, token) => this.controller.previewContext(token),
        );
      } catch (err) {
        return this.unestimated(err);
      }
      if (!preview) return false;
      if (!needsConfirmation(preview)) return true;
      const s = readSettings(this.controller.folder?.uri);
      const text = confirmationText(preview);
      const smaller = smallerSettings(preview, s);
      const showContext = 'Show Context';
      const pick = await vscode.window.showWarningMessage(
        text.message,
        { modal: true, detail: text.detail },
        text.build,
        ...smaller.map((o) => o.label),
        showContext,
      );
      this.log(`build confirmation: ${pick ?? 'cancelled'} (${text.message})`);
      if (pick === text.build) return true;
      if (pick === showContext) await vscode.commands.executeCommand('kvzipCode.showContext');
      const chosen = smaller.find((o) => o.label === pick);
      if (!chosen) return false;
      await vscode.workspace.getConfiguration(SECTION).update(chosen.setting, chosen.value, vscode.ConfigurationTarget.Global);
    }
  }

  /** The preview failed: the build would likely fail the same way, so say why and let the user decide. */
  private async unestimated(err: unknown): Promise<boolean> {
    const f = failureOf(err);
    this.log(`build estimate failed: ${f.message}`);
    const anyway = 'Build Anyway';
    const buttons = f.actions.map((a) => ACTION_LABEL[a]);
    const pick = await vscode.window.showWarningMessage(
      'KVzip could not estimate the build.',
      { modal: true, detail: f.message },
      anyway,
      ...buttons,
    );
    if (pick === anyway) return true;
    const action = f.actions.find((a) => ACTION_LABEL[a] === pick);
    if (action) await runFailureAction(action, f.setting);
    return false;
  }
}
