// The cache list's words (Show Cache Info): each entry's model, size, age and state, and what a Clear loses. Pure,
// so the wording is tested without a window; cacheList.ts draws it.
import * as path from 'node:path';
import type { CacheEntryInfo, UsableEntryInfo } from '../engine/protocol.ts';
import { duration } from '../engine/previewText.ts';

/** What an entry is to the workspace open now. */
export type EntryState = 'fresh' | 'stale' | 'other-settings' | 'other-workspace' | 'unusable';

export interface EntryFacts {
  /** The folder of the workspace open now (its real path where it has one), if any. */
  workspace?: string;
  /** The entry the workspace's current settings use (a directory as `info` gives it), and its state. */
  inUse?: { entry: string; state: 'fresh' | 'stale' | 'none' | 'building' };
  now: number;
}

export function sizeText(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 10 * 2 ** 20) return `${Math.round(bytes / 2 ** 20)} MiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/** "3 min ago", "5 h ago", "2 days ago". */
export function agoText(at: number, now: number): string {
  const min = Math.round((now - at) / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

/** The model's name: a Hugging Face cache folder's repository, or the file or folder name. */
export function modelName(modelPath: string): string {
  const hub = /models--[^/\\]+--([^/\\]+)[/\\]snapshots[/\\]/.exec(modelPath);
  if (hub) return hub[1]!;
  return path.basename(modelPath).replace(/\.gguf$/i, '');
}

/** Entries live at <cache>/entries/<key>/<generation>: a refresh changes the generation, never the key. */
function keyOf(entry: string): string {
  return path.basename(path.dirname(entry));
}

export function entryState(e: CacheEntryInfo, f: EntryFacts): EntryState {
  if ('problem' in e) return 'unusable';
  if (f.inUse && keyOf(f.inUse.entry) === keyOf(e.entry)) return f.inUse.state === 'stale' ? 'stale' : 'fresh';
  return f.workspace !== undefined && e.workspace === f.workspace ? 'other-settings' : 'other-workspace';
}

export interface EntryItem {
  label: string;
  description: string;
  detail: string;
  state: EntryState;
}

/** One row of the list: the model, then size, context and age, then what it is to this workspace. */
export function entryItem(e: CacheEntryInfo, f: EntryFacts): EntryItem {
  const state = entryState(e, f);
  if ('problem' in e) {
    return {
      label: path.basename(path.dirname(e.entry)),
      description: sizeText(e.bytes),
      detail: `Cannot be used: ${e.problem}. Clear removes it.`,
      state,
    };
  }
  const settings = `ratio ${e.ratio}, ${e.level}${e.scoring === 'local' ? ', local scoring' : ''}`;
  const details: Record<Exclude<EntryState, 'unusable'>, string> = {
    fresh: `Fresh · in use for this workspace (${settings})`,
    stale: `Stale · in use for this workspace; files changed since it was built (${settings})`,
    'other-settings': `This workspace, other settings (${settings}): not in use now`,
    'other-workspace': `Another workspace: ${e.workspace} (${settings})`,
  };
  const built = agoText(Date.parse(e.createdAt), f.now);
  return {
    label: modelName(e.modelPath),
    description: `${sizeText(e.bytes)} · ${e.contextTokens.toLocaleString('en-US')} tokens · built ${built}`,
    detail: details[state as Exclude<EntryState, 'unusable'>],
    state,
  };
}

export interface ClearQuestion {
  message: string;
  detail: string;
}

function lost(e: UsableEntryInfo): string {
  const took = e.buildMs !== undefined ? `, built in ${duration(e.buildMs / 1000)}` : '';
  return `${modelName(e.modelPath)} (${sizeText(e.bytes)}, ${e.contextTokens.toLocaleString('en-US')} tokens${took})`;
}

/** The confirmation before one entry goes: what it is, and how long it took to build where that is known. */
export function clearEntryQuestion(e: CacheEntryInfo): ClearQuestion {
  if ('problem' in e)
    return { message: 'Delete this unusable KVzip cache entry?', detail: `It cannot be used (${e.problem}): nothing is lost.` };
  const again =
    e.buildMs !== undefined
      ? `Using it again means building it again: ${duration(e.buildMs / 1000)} last time.`
      : 'Using it again means building it again.';
  return {
    message: `Delete the KVzip cache of ${modelName(e.modelPath)} for ${path.basename(e.workspace)}?`,
    detail: `${lost(e)}. ${again}`,
  };
}

/**
 * The confirmation before Clear Workspace Cache: the workspace's entries that go, each with its build time where
 * known. Undefined when none does (nothing but unusable entries is removed, and nothing is lost).
 */
export function clearWorkspaceQuestion(entries: readonly UsableEntryInfo[]): ClearQuestion | undefined {
  if (entries.length === 0) return undefined;
  const longest = Math.max(...entries.map((e) => e.buildMs ?? 0));
  const again =
    longest > 0
      ? ` The next question builds it again, which took ${duration(longest / 1000)} last time.`
      : ' The next question builds it again.';
  const what = entries.length === 1 ? 'Its cache' : `Its ${entries.length} caches`;
  return {
    message: 'Delete the KVzip cache of this workspace?',
    detail: `${what}: ${entries.map(lost).join('; ')}.${again}`,
  };
}
