// The workspace context as the engine builds it for a model: the budget is the model's window (or the user's
// cap) minus the cached prompt prefix and the answer reserve. Shared by builds and by the preview, so what the
// preview shows is what a build takes.
import { buildContext, type BuiltContext, type ContextRoot } from '../context/index.ts';
import { UserError } from '../core/errors.ts';
import type { ProgressFn } from '../core/progress.ts';
import { attentionWindow, type ModelSpec } from '../model/config.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import type { CacheSettings, ContextLimit } from './protocol.ts';
import { cacheFolderExcludes, checkWorkspace } from './workspace.ts';

/** Positions kept free after the context for the question and the answer. */
export const ANSWER_RESERVE = 1024;

/** Tokens the workspace's files may take: the window (or --max-context-tokens) less the prefix and the reserve. */
export function contextLimit(spec: ModelSpec, tokenizer: ModelTokenizer, maxContextTokens?: number): ContextLimit {
  const window = Math.min(attentionWindow(spec), maxContextTokens ?? Infinity);
  const prefixTokens = tokenizer.prefixIds(tokenizer.layout()).length;
  const reserveTokens = Math.min(ANSWER_RESERVE, Math.floor(window / 4));
  const maxTokens = window - prefixTokens - reserveTokens;
  if (maxTokens <= 0) {
    throw new UserError(
      `A context of ${maxContextTokens ?? window} tokens leaves no room for the workspace: the prompt's own prefix takes ${prefixTokens} ` +
        `and ${reserveTokens} are kept for the question and the answer. Allow more context tokens (--max-context-tokens).`,
      'bad-request',
    );
  }
  return { window, prefixTokens, reserveTokens, maxTokens };
}

/** The folders a setting names: several for a multi-root workspace, else the one workspace folder. */
export function contextRoots(s: Pick<CacheSettings, 'workspace' | 'folders'>): string | ContextRoot[] {
  const many = s.folders !== undefined && s.folders.length > 0;
  for (const path of many ? s.folders!.map((f) => f.path) : [s.workspace]) checkWorkspace(path);
  return many ? s.folders! : s.workspace;
}

export function workspaceContext(
  s: CacheSettings,
  spec: ModelSpec,
  tokenizer: ModelTokenizer,
  tokenizerId: string | undefined,
  signal?: AbortSignal,
  progress?: ProgressFn,
): Promise<BuiltContext> {
  const roots = contextRoots(s);
  // The cache folder stays out of every folder it lies in (each folder's globs are relative to that folder, and
  // excludes apply to paths before the folder's name is put in front).
  const folders = typeof roots === 'string' ? [roots] : roots.map((r) => r.path);
  const exclude = [...(s.exclude ?? []), ...folders.flatMap((f) => cacheFolderExcludes(f, s.cacheDir))];
  return buildContext(roots, {
    // Files and their names are plain text: a control token spelled in one is not the token.
    encode: (t) => tokenizer.encode(t),
    controlTokens: tokenizer.controlTokens,
    maxTokens: contextLimit(spec, tokenizer, s.maxContextTokens).maxTokens,
    includeSecrets: s.includeSecrets,
    include: s.include,
    exclude,
    pinned: s.pinned,
    tokenizerId,
    signal,
    onProgress: (p) => progress?.('context', p.done, p.total, p.phase),
  });
}
