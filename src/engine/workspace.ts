// The workspace as the engine reads it: a folder that exists, never the cache folder inside it, and, when no
// file could go into the context, a message that says which of the reasons it was.
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import type { BuiltContext, OmittedFile } from '../context/types.ts';
import { UserError } from '../core/errors.ts';
import { isInside } from '../core/paths.ts';
import type { CacheSettings, ContextLimit } from './protocol.ts';

export function checkWorkspace(workspace: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(workspace).isDirectory();
  } catch {
    throw new UserError(`The workspace ${workspace} does not exist. Open or name the repository's folder.`, 'workspace');
  }
  if (!isDir) throw new UserError(`The workspace ${workspace} is not a folder. Open or name the repository's folder.`, 'workspace');
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Refuses a cache folder that is a workspace folder itself: the prepared weights and every entry would be
 * written into the repository. Called before anything is written to the cache folder.
 */
export function checkCacheNotWorkspace(s: Pick<CacheSettings, 'workspace' | 'folders' | 'cacheDir'>): void {
  const cache = real(s.cacheDir);
  const folders = s.folders?.length ? s.folders.map((f) => f.path) : [s.workspace];
  for (const f of folders) {
    if (real(f) === cache)
      throw new UserError(
        `The cache folder ${s.cacheDir} is the workspace itself. Choose a folder outside it (--cache-dir, or the KVZIP_CACHE_DIR environment variable).`,
        'cache-dir',
      );
  }
}

/**
 * Globs that leave the cache folder out when it lies inside the workspace (a workspace at $HOME holds the default
 * cache): its files would enter the context, and every build would change what the next one reads.
 */
export function cacheFolderExcludes(workspace: string, cacheDir: string): string[] {
  checkCacheNotWorkspace({ workspace, cacheDir });
  const root = real(workspace);
  const cache = real(cacheDir);
  if (!isInside(root, cache)) return [];
  const rel = relative(root, cache);
  const glob = rel.split(sep).map(escapeGlob).join('/');
  return [glob, `${glob}/**`];
}

/** What the folder holds at its top, but the repository's own database. */
function topLevelNames(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n !== '.git')
      .sort();
  } catch {
    return [];
  }
}

function escapeGlob(segment: string): string {
  return segment.replace(/[\\*?[\]{}()!+@|]/g, '\\$&');
}

/** The budget behind an empty context: the window it came from, and the user's cap when one was set. */
export interface EmptyContextBudget {
  limit: ContextLimit;
  /** The model's own window. */
  modelWindow: number;
  maxContextTokens?: number | undefined;
}

/** Why nothing could go into the context, in the terms of what the user can change. */
export function emptyContextMessage(workspace: string, ctx: BuiltContext, b: EmptyContextBudget): string {
  if (ctx.stats.scanned === 0 && ctx.omitted.length === 0) {
    // Nothing was listed: the folder is empty, or its ignore rules cover all it holds (ignored files are left out
    // before they are listed, so the report names none of them).
    const names = topLevelNames(workspace);
    if (names.length === 0) return `${workspace} holds no files to read.`;
    const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ', …' : '');
    return `Every file of ${workspace} (${shown}) is ignored by its ignore rules (.gitignore, .git/info/exclude or git's global excludes file), and ignored files never go into the context. Change those rules, or open the folder that holds the code.`;
  }
  // Any file left out for the budget means one could go in with more room: the others (lockfiles, binaries) never would.
  const budgetOut = ctx.omitted.filter((o) => o.reason === 'budget');
  if (budgetOut.length > 0) return tooSmallMessage(workspace, budgetOut, b);
  const reasons = new Map<string, number>();
  for (const o of ctx.omitted) reasons.set(o.reason, (reasons.get(o.reason) ?? 0) + 1);
  const list = [...reasons].map(([r, n]) => `${n} ${r}`).join(', ');
  return `No files of ${workspace} could go into the context (${ctx.omitted.length} left out: ${list}). Check the include/exclude settings.`;
}

function tooSmallMessage(workspace: string, out: readonly OmittedFile[], b: EmptyContextBudget): string {
  const { limit } = b;
  const capped = b.maxContextTokens !== undefined && b.maxContextTokens < b.modelWindow;
  const from = capped ? `the ${limit.window} tokens --max-context-tokens allows` : `the model's ${limit.window}-token window`;
  let text =
    `No file of ${workspace} fits in the ${limit.maxTokens} tokens of context left for files ` +
    `(${from}, less ${limit.prefixTokens} for the prompt and ${limit.reserveTokens} kept for the question and the answer)`;
  const measured = out.filter((o) => o.tokens !== undefined);
  const smallest = measured.reduce<OmittedFile | undefined>((s, o) => (s && s.tokens! <= o.tokens! ? s : o), undefined);
  if (smallest) {
    const form = /tokens (whole|as an outline)/.exec(smallest.detail ?? '')?.[1];
    const of = measured.length === 1 ? 'the one file measured' : `the smallest of the ${measured.length} files measured`;
    text += `: ${of}, ${smallest.path}, takes ${smallest.tokens}${form ? ` ${form}` : ''}`;
  }
  return capped
    ? `${text}. Raise --max-context-tokens (this model allows up to ${b.modelWindow}), or choose a model with a larger window (--model).`
    : `${text}. Choose a model with a larger window (--model).`;
}
