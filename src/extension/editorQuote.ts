// What an editor gives a question: the document's path as the context names it, and a selection as a quote the
// engine cuts to fit (Ask About Selection, and the focus shortcut's chip).
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { Quote } from '../engine/protocol.ts';
import { contextFolders } from './settings.ts';

/** The document's path as the context names it: relative to its folder, with `/`, the folder's name first when several are open. */
export function workspacePath(folder: vscode.WorkspaceFolder, doc: vscode.TextDocument): string {
  const own = doc.isUntitled ? undefined : vscode.workspace.getWorkspaceFolder(doc.uri);
  if (!own) return doc.isUntitled ? doc.fileName : path.relative(folder.uri.fsPath, doc.uri.fsPath).split(path.sep).join('/');
  const rel = path.relative(own.uri.fsPath, doc.uri.fsPath).split(path.sep).join('/');
  const all = vscode.workspace.workspaceFolders ?? [own];
  if (all.length < 2) return rel;
  const name = contextFolders(all).find((f) => f.path === own.uri.fsPath)?.name;
  return name ? `${name}/${rel}` : rel;
}

/** The editor's selection with its file and lines; the file's whole text lets the engine tell whether the cache holds it. */
export function selectionQuote(folder: vscode.WorkspaceFolder, editor: vscode.TextEditor): Quote {
  const sel = editor.selection;
  return {
    text: editor.document.getText(sel),
    language: editor.document.languageId,
    path: workspacePath(folder, editor.document),
    lines: [sel.start.line + 1, sel.end.line + 1],
    whole: editor.document.getText(),
  };
}
