// The buttons a failure offers (errors.ts), on an error notification and in the sidebar, and what each one does.
import * as vscode from 'vscode';
import { ACTION_LABEL, type FailureAction } from '../webview/messages.ts';
import type { Failure } from './errors.ts';

export async function runFailureAction(action: FailureAction, setting?: string): Promise<void> {
  switch (action) {
    case 'chooseModel':
      await vscode.commands.executeCommand('kvzipCode.chooseModel');
      return;
    case 'openSettings':
      // The settings editor, searched for the setting at fault (all of KVzip's when none is named).
      await vscode.commands.executeCommand('workbench.action.openSettings', setting ?? 'kvzipCode');
      return;
    case 'showOutput':
      await vscode.commands.executeCommand('kvzipCode.showOutput');
      return;
  }
}

/** An error notification that starts with `what` failed, says why, and offers the failure's buttons. */
export async function showFailure(what: string, f: Failure): Promise<void> {
  const pick = await vscode.window.showErrorMessage(`KVzip: ${what} ${f.message}`, ...f.actions.map((a) => ACTION_LABEL[a]));
  const action = f.actions.find((a) => ACTION_LABEL[a] === pick);
  if (action) await runFailureAction(action, f.setting);
}
