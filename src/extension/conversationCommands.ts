// The commands around conversations: the focus shortcut (the question box, with the editor's selection attached)
// and Conversation History (a quick pick of the kept conversations, each with a delete button).
import * as vscode from 'vscode';
import type { Controller } from './controller.ts';
import type { SidebarProvider } from './viewProvider.ts';
import { selectionQuote } from './editorQuote.ts';

export async function focusQuestion(sidebar: SidebarProvider, folder: vscode.WorkspaceFolder | undefined): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const selected = folder && editor && !editor.selection.isEmpty ? selectionQuote(folder, editor) : undefined;
  await sidebar.focusQuestion(selected);
}

/** "3 min ago", "yesterday", or the date: how long ago a conversation was last added to. */
function ago(at: number, now = Date.now()): string {
  const min = Math.round((now - at) / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 24) return `${h} h ago`;
  if (h < 48) return 'yesterday';
  return new Date(at).toLocaleDateString();
}

export async function showHistory(controller: Controller): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { id: string };
  const remove: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('trash'), tooltip: 'Delete this conversation' };
  const items = (): Item[] =>
    controller.conversationList().map((c) => ({
      id: c.id,
      label: c.title,
      description: `${c.turns} ${c.turns === 1 ? 'question' : 'questions'} · ${ago(c.updatedAt)}${c.id === controller.currentConversation ? ' · shown now' : ''}`,
      buttons: [remove],
    }));
  const pick = vscode.window.createQuickPick<Item>();
  pick.title = 'KVzip: conversations in this workspace';
  pick.placeholder = 'Pick one to show it and ask on from it';
  pick.items = items();
  if (!pick.items.length) pick.placeholder = 'No conversations yet: ask a question in the KVzip sidebar';
  const chosen = await new Promise<string | undefined>((resolve) => {
    pick.onDidTriggerItemButton((e) => {
      controller.deleteConversation(e.item.id);
      pick.items = items();
    });
    pick.onDidAccept(() => resolve(pick.selectedItems[0]?.id));
    pick.onDidHide(() => resolve(undefined));
    pick.show();
  });
  pick.dispose();
  if (chosen) {
    controller.openConversation(chosen);
    await vscode.commands.executeCommand('kvzipCode.sidebar.focus');
  }
  return chosen;
}
