// buildContext: the pipeline. discover -> stat -> order -> read+filter+encode (against the budget) -> render.
// Memory stays bounded by the budget plus one batch of files: content is only kept for files that fit.
import { createHash } from 'node:crypto';
import { lstat, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fillOrder, TokenBudget } from './budget.ts';
import { generatedContentVerdict, type Verdict } from './defaults.ts';
import { discover } from './discover.ts';
import { fingerprintOf } from './fingerprint.ts';
import { gitChurn, gitDirty, orderByChurn, orderByMtime } from './order.ts';
import { readStable } from './read.ts';
import { renderSegment } from './render.ts';
import { Omissions } from './report.ts';
import { contextRules } from './rules.ts';
import { secretContentVerdict } from './secrets.ts';
import { decode } from './sniff.ts';
import type { BuiltContext, ContextFile, ContextOptions } from './types.ts';

export const DEFAULT_MAX_FILE_BYTES = 256 * 1024;
export const DEFAULT_MAX_FILES = 100_000;
export const DEFAULT_MAX_HISTORY_COMMITS = 2000;
/** Files read concurrently: enough to hide I/O latency, small enough to bound memory (batch x max size). */
const IO_BATCH = 32;

interface Candidate {
  path: string;
  bytes: number;
  mtimeMs: number;
}

interface Kept {
  hash: string;
  bytes: number;
  text: string;
  contentOffset: number;
  ids: ArrayLike<number>;
  note?: string;
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

export async function buildContext(root: string, options: ContextOptions): Promise<BuiltContext> {
  const t0 = performance.now();
  const rootAbs = resolve(root);
  const { signal } = options;
  signal?.throwIfAborted();
  const progress = options.onProgress ?? (() => {});
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const includeSecrets = options.includeSecrets ?? false;
  const defaults = options.defaultExcludes ?? true;
  const omitted = new Omissions();
  const rules = contextRules(options);

  const found = await discover(rootAbs, {
    mode: options.discovery ?? 'auto',
    rules,
    omitted,
    maxFiles: options.maxFiles ?? DEFAULT_MAX_FILES,
    signal,
    onProgress: progress,
  });

  // Stat without following symlinks: a link may leave the workspace (~/.ssh) or loop.
  const candidates: Candidate[] = [];
  for (let i = 0; i < found.paths.length; i += IO_BATCH * 8) {
    signal?.throwIfAborted();
    const batch = found.paths.slice(i, i + IO_BATCH * 8);
    const stats = await Promise.all(batch.map((p) => lstat(join(rootAbs, p)).catch((e: unknown) => errCode(e))));
    for (let j = 0; j < batch.length; j++) {
      const path = batch[j]!;
      const st = stats[j]!;
      if (typeof st === 'string') {
        omitted.file(path, { reason: 'unreadable', detail: st === 'ENOENT' ? 'missing (listed but not on disk)' : st });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(join(rootAbs, path)).catch(() => '?');
        omitted.file(path, { reason: 'symlink', detail: `links to ${target}; links are not followed` });
      } else if (!st.isFile()) {
        omitted.file(path, { reason: 'not-a-file', detail: st.isDirectory() ? 'a folder (submodule?)' : 'not a regular file' });
      } else if (st.size > maxFileBytes) {
        omitted.file(path, { reason: 'too-large', detail: `over ${maxFileBytes} bytes` }, { bytes: st.size });
      } else {
        candidates.push({ path, bytes: st.size, mtimeMs: st.mtimeMs });
      }
    }
    progress({ phase: 'stat', done: Math.min(i + IO_BATCH * 8, found.paths.length), total: found.paths.length });
  }

  let ordered: Candidate[];
  if (found.mode === 'git') {
    const [churn, dirty] = await Promise.all([
      gitChurn(rootAbs, options.maxHistoryCommits ?? DEFAULT_MAX_HISTORY_COMMITS, signal),
      gitDirty(rootAbs, signal),
    ]);
    ordered = orderByChurn(candidates, churn, new Set([...dirty, ...found.untracked]));
  } else {
    ordered = orderByMtime(candidates);
  }
  progress({ phase: 'order', done: ordered.length, total: ordered.length });

  const budget = new TokenBudget(options.maxTokens ?? Number.POSITIVE_INFINITY);
  const kept = new Map<string, Kept>();
  const tryOrder = fillOrder(candidates);
  const skip = (path: string, v: Verdict, bytes?: number, tokens?: number): void =>
    omitted.file(path, v, tokens === undefined ? { bytes } : { bytes, tokens });

  for (let i = 0; i < tryOrder.length; i += IO_BATCH) {
    signal?.throwIfAborted();
    const batch = tryOrder.slice(i, i + IO_BATCH);
    if (budget.full) {
      for (const c of batch) skip(c.path, { reason: 'budget', detail: 'not read: the budget was already full' }, c.bytes);
      continue;
    }
    const reads = await Promise.all(batch.map((c) => readStable(join(rootAbs, c.path), maxFileBytes)));
    for (let j = 0; j < batch.length; j++) {
      const { path } = batch[j]!;
      const r = reads[j]!;
      if (!r.ok) {
        skip(path, r, r.bytes);
        continue;
      }
      const bytes = r.bytes.length;
      const d = decode(r.bytes);
      if (d.binary) {
        skip(path, { reason: 'binary', detail: d.detail }, bytes);
        continue;
      }
      const v =
        (includeSecrets ? undefined : await secretContentVerdict(path, d.text)) ??
        (defaults ? generatedContentVerdict(d.text) : undefined);
      if (v) {
        skip(path, v, bytes);
        continue;
      }
      const seg = renderSegment(path, d.text);
      const ids = options.encode(seg.text);
      if (budget.full || !budget.take(ids.length)) {
        skip(path, { reason: 'budget', detail: `does not fit in ${budget.max} tokens` }, bytes, ids.length);
        continue;
      }
      const k: Kept = { hash: createHash('sha256').update(r.bytes).digest('hex'), bytes, text: seg.text, contentOffset: seg.contentOffset, ids };
      if (d.invalid > 0) k.note = `${d.invalid} invalid UTF-8 sequences shown as U+FFFD`;
      kept.set(path, k);
    }
    progress({ phase: 'read', done: Math.min(i + IO_BATCH, tryOrder.length), total: tryOrder.length });
  }

  const parts: string[] = [];
  const tokenIds: number[] = [];
  const files: ContextFile[] = [];
  let chars = 0;
  for (const c of ordered) {
    const k = kept.get(c.path);
    if (!k) continue;
    const f: ContextFile = {
      path: c.path,
      hash: k.hash,
      bytes: k.bytes,
      tokenStart: tokenIds.length,
      tokenEnd: tokenIds.length + k.ids.length,
      charStart: chars,
      contentStart: chars + k.contentOffset,
      charEnd: chars + k.text.length,
    };
    if (k.note) f.note = k.note;
    for (let t = 0; t < k.ids.length; t++) tokenIds.push(k.ids[t]!);
    parts.push(k.text);
    chars += k.text.length;
    files.push(f);
  }
  progress({ phase: 'render', done: files.length, total: files.length });

  const list = omitted.list();
  return {
    text: parts.join(''),
    files,
    omitted: list,
    totalTokens: tokenIds.length,
    tokenIds,
    fingerprint: fingerprintOf(files, tokenIds.length, options.tokenizerId),
    stats: {
      discovery: found.mode,
      order: found.mode === 'git' ? 'git-history' : 'mtime',
      scanned: found.paths.length,
      included: files.length,
      omitted: list.length,
      ms: Math.round(performance.now() - t0),
    },
  };
}
