// Show Cache Info as a list of the cache's entries (model, size, age, fresh or stale), each with a Clear button that
// removes that entry alone; and the confirmation before any Clear, since a cache can take an hour to build.
import * as vscode from 'vscode';
import { realpathSync } from 'node:fs';
import type { CacheEntryInfo, UsableEntryInfo } from '../engine/protocol.ts';
import type { Controller } from './controller.ts';
import { clearEntryQuestion, clearWorkspaceQuestion, entryItem, type EntryFacts } from './cacheEntries.ts';

const DELETE = 'Delete Cache';

function real(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    return p;
  }
}

function facts(controller: Controller): EntryFacts {
  const folder = controller.folder;
  const inUse = controller.inUseEntry;
  return {
    ...(folder ? { workspace: real(folder.uri.fsPath) } : {}),
    ...(inUse ? { inUse: { entry: inUse, state: controller.current.state } } : {}),
    now: Date.now(),
  };
}

/** The modal question; true when the user said to delete. */
async function confirm(q: { message: string; detail: string }): Promise<boolean> {
  return (await vscode.window.showWarningMessage(q.message, { modal: true, detail: q.detail }, DELETE)) === DELETE;
}

/** Asks before Clear Workspace Cache when it would delete a usable entry of this workspace. */
export async function confirmClearWorkspace(controller: Controller): Promise<boolean> {
  const workspace = facts(controller).workspace;
  const mine = (await controller.info()).filter((e): e is UsableEntryInfo => !('problem' in e) && e.workspace === workspace);
  const q = clearWorkspaceQuestion(mine);
  return !q || confirm(q);
}

/** The list; resolves with the entries last shown when it closes. */
export async function showCacheList(controller: Controller, cacheDir: string): Promise<CacheEntryInfo[]> {
  type Item = vscode.QuickPickItem & { entry: CacheEntryInfo };
  const clear: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('trash'), tooltip: 'Clear this cache entry' };
  const pick = vscode.window.createQuickPick<Item>();
  pick.title = 'KVzip: cache entries';
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  let entries: CacheEntryInfo[] = [];
  const load = async (): Promise<void> => {
    pick.busy = true;
    entries = await controller.info();
    const f = facts(controller);
    pick.items = entries.map((e) => ({ ...entryItem(e, f), entry: e, buttons: [clear] }));
    pick.placeholder = entries.length
      ? `Its trash button clears an entry · ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} in ${cacheDir}`
      : `No cache entries in ${cacheDir}`;
    pick.busy = false;
  };
  await new Promise<void>((resolve, reject) => {
    pick.onDidTriggerItemButton(async (e) => {
      // The modal takes the focus: the list stays open behind it.
      pick.ignoreFocusOut = true;
      try {
        if (await confirm(clearEntryQuestion(e.item.entry))) {
          await controller.clearEntry(e.item.entry.entry);
          await load();
        }
      } catch (err) {
        reject(err);
      } finally {
        pick.ignoreFocusOut = false;
        pick.show();
      }
    });
    pick.onDidAccept(() => pick.hide());
    pick.onDidHide(() => resolve());
    pick.show();
    load().catch((err: unknown) => {
      pick.hide();
      reject(err);
    });
  }).finally(() => pick.dispose());
  return entries;
}
