// buildContext: the pipeline. discover -> stat -> order -> rank (import graph) -> read+filter+encode, tier by
// tier against the budget (budget.ts) -> render in the refresh-friendly order.
// Memory stays bounded by the budget plus one batch of files: content is only kept for files that fit, and
// the import graph keeps edges, not text.
import { createHash } from 'node:crypto';
import { lstat, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HUGE_SHARE, TokenBudget } from './budget.ts';
import { generatedContentVerdict } from './defaults.ts';
import { discover } from './discover.ts';
import { fingerprintOf } from './fingerprint.ts';
import { DEFAULT_MAX_GRAPH_BYTES, importGraph } from './graph.ts';
import { gitChurn, gitDirty, orderByChurn, orderByMtime } from './order.ts';
import { outlineOf } from './outline.ts';
import { rankFiles, tierOf, type Ranked } from './rank.ts';
import { readStable, type ReadResult } from './read.ts';
import { renderSegment, type Segment } from './render.ts';
import { Omissions } from './report.ts';
import { contextRules } from './rules.ts';
import { secretContentVerdict } from './secrets.ts';
import { decode } from './sniff.ts';
import { loadSyntax } from './syntax.ts';
import type { BuiltContext, ContextFile, ContextOptions, ContextRoot } from './types.ts';

export const DEFAULT_MAX_FILE_BYTES = 256 * 1024;
export const DEFAULT_MAX_FILES = 100_000;
export const DEFAULT_MAX_HISTORY_COMMITS = 2000;
/** Files read concurrently: enough to hide I/O latency, small enough to bound memory (batch x max size). */
const IO_BATCH = 32;
/** Huge files skipped in a row before the fill ends anyway: reading stays bounded by about one budget. */
const MAX_HUGE_MISSES = 16;
/** Files smaller than this are not outlined. */
const MIN_OUTLINE_BYTES = 1024;
/** A segment's bytes beyond the file's own and its path's: `=== `, ` ===\n` and a final newline. */
const HEADER_BYTES = 10;

interface Candidate {
  /** Workspace-relative, with the folder's name in front when there are several folders. */
  path: string;
  abs: string;
  bytes: number;
  mtimeMs: number;
}

interface Kept {
  hash: string;
  bytes: number;
  seg: Segment;
  ids: ArrayLike<number>;
  /** The decoded file, kept while it is in as an outline so it can be upgraded to whole. */
  content?: string;
  /** The file's fuller outline, kept while it is in at the signatures level so it can be upgraded to it. */
  outline?: string;
  note?: string;
  ranked: Ranked;
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

function roots(root: string | readonly ContextRoot[]): { prefix: string; abs: string }[] {
  if (typeof root === 'string') return [{ prefix: '', abs: resolve(root) }];
  if (root.length === 0) throw new Error('no workspace folder to build a context from');
  if (root.length === 1) return [{ prefix: '', abs: resolve(root[0]!.path) }];
  const names = new Set<string>();
  return root.map((r) => {
    if (!r.name || r.name.includes('/') || names.has(r.name)) {
      throw new Error(`workspace folder names must be unique and have no "/": "${r.name}" (${r.path})`);
    }
    names.add(r.name);
    return { prefix: `${r.name}/`, abs: resolve(r.path) };
  });
}

/**
 * Builds the context of one folder (a path) or of a multi-root workspace (several folders, each path prefixed
 * with its folder's name, one budget for all).
 */
export async function buildContext(root: string | readonly ContextRoot[], options: ContextOptions): Promise<BuiltContext> {
  const t0 = performance.now();
  const { signal } = options;
  signal?.throwIfAborted();
  const progress = options.onProgress ?? (() => {});
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const includeSecrets = options.includeSecrets ?? false;
  const defaults = options.defaultExcludes ?? true;
  const folders = roots(root);
  const omitted = new Omissions();
  const rules = contextRules(options);
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;

  const ordered: Candidate[] = [];
  const modes = new Set<'git' | 'walk'>();
  let scanned = 0;
  for (const folder of folders) {
    const local = new Omissions();
    const found = await discover(folder.abs, {
      mode: options.discovery ?? 'auto',
      rules,
      omitted: local,
      maxFiles: maxFiles - scanned,
      signal,
      onProgress: progress,
    });
    modes.add(found.mode);
    scanned += found.paths.length;
    omitted.merge(local, folder.prefix);
    const candidates = await statAll(folder.abs, found.paths, maxFileBytes, local, signal, progress);
    omitted.merge(local, folder.prefix);
    let order: typeof candidates;
    if (found.mode === 'git') {
      const [churn, dirty] = await Promise.all([
        gitChurn(folder.abs, options.maxHistoryCommits ?? DEFAULT_MAX_HISTORY_COMMITS, signal),
        gitDirty(folder.abs, signal),
      ]);
      order = orderByChurn(candidates, churn, new Set([...dirty, ...found.untracked]));
    } else {
      order = orderByMtime(candidates);
    }
    for (const c of order) ordered.push({ ...c, path: folder.prefix + c.path });
  }
  progress({ phase: 'order', done: ordered.length, total: ordered.length });

  const syntax = await loadSyntax();
  const graph = await importGraph(
    syntax,
    ordered,
    folders.map((f) => f.prefix),
    {
      maxBytes: options.maxGraphBytes ?? DEFAULT_MAX_GRAPH_BYTES,
      signal,
      onProgress: (done, total) => progress({ phase: 'rank', done, total }),
    },
  );
  const ranking = rankFiles({ paths: ordered.map((c) => c.path), edges: graph.edges, mentioned: graph.mentioned, pinned: options.pinned });
  const byPath = new Map(ordered.map((c) => [c.path, c]));

  const budget = new TokenBudget(options.maxTokens ?? Number.POSITIVE_INFINITY);
  const kept = new Map<string, Kept>();
  /** Files left out for the budget: reported at the end, since the smaller-files fill may still take some. */
  const out = new Map<string, { ranked: Ranked; bytes: number | undefined; detail: string; tokens?: number }>();
  const leaveOut = (ranked: Ranked, bytes: number | undefined, detail: string, tokens?: number): void => {
    out.set(ranked.path, { ranked, bytes, detail, ...(tokens === undefined ? {} : { tokens }) });
  };
  /** Set when a file's smallest form did not fit: it and everything ranked below stay out. */
  let endedAt: Ranked | undefined;
  const lostAt = (r: Ranked): string => `rank ${r.rank} of ${ranking.length} (${r.kind})`;
  const formOf = (k: Kept): string => (k.content === undefined ? 'whole' : 'as an outline');
  const missed = (k: Kept): string => `${lostAt(k.ranked)}: ${k.ids.length} tokens ${formOf(k)}, ${budget.left} of ${budget.max} left`;

  /**
   * A file read, checked and encoded in its smallest form (whole when `whole` is set and it fits whole), or
   * undefined when what it holds leaves it out (the report says why).
   */
  const measure = async (ranked: Ranked, r: ReadResult, whole: boolean): Promise<Kept | undefined> => {
    const { path } = ranked;
    if (!r.ok) {
      omitted.file(path, r, { bytes: r.bytes });
      return undefined;
    }
    const bytes = r.bytes.length;
    const d = decode(r.bytes);
    if (d.binary) {
      omitted.file(path, { reason: 'binary', detail: d.detail }, { bytes });
      return undefined;
    }
    const v =
      (includeSecrets ? undefined : await secretContentVerdict(path, d.text)) ?? (defaults ? generatedContentVerdict(d.text) : undefined);
    if (v) {
      omitted.file(path, v, { bytes });
      return undefined;
    }
    let outline: string | undefined;
    let signatures: string | undefined;
    let seg: Segment | undefined;
    let ids: ArrayLike<number> | undefined;
    if (whole) {
      seg = renderSegment(path, d.text);
      ids = options.encode(seg.text);
    }
    if (!ids || ids.length > budget.left) {
      // A small file's outline would save a few tokens for a parse: small files go in whole or not at all.
      outline = bytes < MIN_OUTLINE_BYTES ? undefined : outlineOf(syntax, path, d.text);
      signatures = outline === undefined ? undefined : outlineOf(syntax, path, d.text, 'signatures');
      if (signatures === outline) signatures = undefined;
      if (signatures !== undefined) seg = renderSegment(path, signatures, 'signatures');
      else if (outline !== undefined) seg = renderSegment(path, outline, 'outline');
      else seg ??= renderSegment(path, d.text);
      ids = options.encode(seg.text);
    }
    const k: Kept = { hash: createHash('sha256').update(r.bytes).digest('hex'), bytes, seg: seg!, ids, ranked };
    if (outline !== undefined) k.content = d.text;
    if (signatures !== undefined) k.outline = outline;
    if (d.invalid > 0) k.note = `${d.invalid} invalid UTF-8 sequences shown as U+FFFD`;
    return k;
  };
  const take = (k: Kept): boolean => {
    if (!budget.take(k.ids.length)) return false;
    kept.set(k.ranked.path, k);
    return true;
  };

  // Signatures become outlines, then outlines whole files, in rank order, while they fit: every central file gets
  // its docstrings before any gets its bodies.
  const upgrade = (k: Kept, to: Segment): boolean => {
    // Tokens scale with characters closely enough to skip encoding files that clearly cannot fit.
    if ((k.ids.length * to.text.length) / k.seg.text.length - k.ids.length > 1.25 * budget.left) return false;
    const ids = options.encode(to.text);
    if (!budget.take(ids.length - k.ids.length)) return false;
    k.seg = to;
    k.ids = ids;
    return true;
  };
  const upgradeAll = (members: readonly Ranked[]): void => {
    for (const ranked of members) {
      const k = kept.get(ranked.path);
      if (k?.outline !== undefined && upgrade(k, renderSegment(ranked.path, k.outline, 'outline'))) delete k.outline;
    }
    for (const ranked of members) {
      const k = kept.get(ranked.path);
      if (k?.content !== undefined && k.outline === undefined && upgrade(k, renderSegment(ranked.path, k.content))) {
        delete k.content;
      }
    }
  };

  let tried = 0;
  let hugeMisses = 0;
  let skippedHuge: Ranked | undefined;

  for (let start = 0; start < ranking.length;) {
    const tier = tierOf(ranking[start]!);
    let end = start;
    while (end < ranking.length && tierOf(ranking[end]!) === tier) end++;
    const members = ranking.slice(start, end);
    start = end;

    // A token takes at least one byte, so when the whole tier's bytes fit, every file goes in whole: no outline is
    // computed and nothing is encoded twice (a roomy budget costs what it cost before ranking).
    let tierBytes = 0;
    for (const r of members) tierBytes += segmentBytes(r.path, byPath.get(r.path)!.bytes);
    const wholeFits = !endedAt && tierBytes <= budget.left;

    // 1. Smallest forms, in rank order (whole files when the tier surely fits).
    for (let i = 0; i < members.length; i += IO_BATCH) {
      signal?.throwIfAborted();
      const batch = members.slice(i, i + IO_BATCH);
      if (endedAt) {
        for (const r of batch) {
          leaveOut(r, byPath.get(r.path)!.bytes, `${lostAt(r)}: not read: the budget ended at rank ${endedAt.rank} (${endedAt.path})`);
        }
        continue;
      }
      const reads = await Promise.all(batch.map((r) => readStable(byPath.get(r.path)!.abs, maxFileBytes)));
      for (let j = 0; j < batch.length; j++) {
        const ranked = batch[j]!;
        const r = reads[j]!;
        if (endedAt) {
          const detail = `${lostAt(ranked)}: the budget ended at rank ${endedAt.rank} (${endedAt.path})`;
          leaveOut(ranked, r.ok ? r.bytes.length : r.bytes, detail);
          continue;
        }
        const k = await measure(ranked, r, wholeFits);
        if (!k) continue;
        if (take(k)) {
          hugeMisses = 0;
          continue;
        }
        const tokens = k.ids.length;
        let detail = missed(k);
        if (tokens > budget.max) {
          // No budget this size can take it, whatever else is left out: it keeps nothing ranked below it out.
          detail += '; more than the whole budget';
          if (++hugeMisses >= MAX_HUGE_MISSES) endedAt = ranked;
        } else if (k.content === undefined && budget.isHuge(tokens) && ++hugeMisses < MAX_HUGE_MISSES) {
          detail += `; no outline, and over ${HUGE_SHARE * 100}% of the budget alone`;
          skippedHuge ??= ranked;
        } else {
          endedAt = ranked;
        }
        leaveOut(ranked, k.bytes, detail, tokens);
      }
      tried += batch.length;
      progress({ phase: 'read', done: tried, total: ranking.length });
    }
    // A huge file skipped inside this tier still keeps every lower tier out.
    endedAt ??= skippedHuge;
    skippedHuge = undefined;

    // 2. Upgrades, for the files of this tier that went in.
    upgradeAll(members);
  }

  // Nothing went in: the files the ranked fill reached are each too big for the budget. Rather than an empty
  // context, the files it never measured fill it, smallest first within each tier (each in its smallest form).
  if (kept.size === 0) {
    const rest = [...out.values()]
      .filter((o) => o.tokens === undefined)
      .map((o) => o.ranked)
      .sort((a, b) => tierOf(a) - tierOf(b) || byPath.get(a.path)!.bytes - byPath.get(b.path)!.bytes || a.rank - b.rank);
    let misses = 0;
    for (let i = 0; i < rest.length && misses < MAX_HUGE_MISSES; i += IO_BATCH) {
      signal?.throwIfAborted();
      const batch = rest.slice(i, i + IO_BATCH);
      const reads = await Promise.all(batch.map((r) => readStable(byPath.get(r.path)!.abs, maxFileBytes)));
      for (let j = 0; j < batch.length && misses < MAX_HUGE_MISSES; j++) {
        const ranked = batch[j]!;
        out.delete(ranked.path);
        const k = await measure(ranked, reads[j]!, segmentBytes(ranked.path, byPath.get(ranked.path)!.bytes) <= budget.left);
        if (!k) continue;
        if (take(k)) {
          misses = 0;
          continue;
        }
        misses++;
        leaveOut(ranked, k.bytes, `${missed(k)}; the files ranked first do not fit, so smaller ones filled the budget`, k.ids.length);
      }
    }
    for (const o of out.values()) {
      if (o.tokens === undefined)
        o.detail = `${lostAt(o.ranked)}: not read: the files ranked first do not fit, and smaller ones filled the budget`;
    }
    upgradeAll([...kept.values()].map((k) => k.ranked).sort((a, b) => a.rank - b.rank));
  }
  for (const o of out.values()) {
    const extra = { bytes: o.bytes, rank: o.ranked.rank, kind: o.ranked.kind, ...(o.tokens === undefined ? {} : { tokens: o.tokens }) };
    omitted.file(o.ranked.path, { reason: 'budget', detail: o.detail }, extra);
  }

  const controlText = controlTextFinder(options.controlTokens);
  const parts: string[] = [];
  const tokenIds: number[] = [];
  const files: ContextFile[] = [];
  let chars = 0;
  let outlines = 0;
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
      contentStart: chars + k.seg.contentOffset,
      charEnd: chars + k.seg.text.length,
      rank: k.ranked.rank,
      kind: k.ranked.kind,
    };
    if (k.content !== undefined) {
      f.outline = true;
      outlines++;
    }
    if (k.outline !== undefined) f.signatures = true;
    const notes = [k.note, controlText(k.seg.text)].filter((x) => x !== undefined);
    if (notes.length > 0) f.note = notes.join('; ');
    for (let t = 0; t < k.ids.length; t++) tokenIds.push(k.ids[t]!);
    parts.push(k.seg.text);
    chars += k.seg.text.length;
    files.push(f);
  }
  progress({ phase: 'render', done: files.length, total: files.length });

  const list = omitted.list();
  const mode = modes.has('walk') ? 'walk' : 'git';
  return {
    text: parts.join(''),
    files,
    omitted: list,
    totalTokens: tokenIds.length,
    tokenIds,
    fingerprint: fingerprintOf(files, tokenIds.length, options.tokenizerId),
    stats: {
      discovery: mode,
      order: modes.has('git') ? 'git-history' : 'mtime',
      roots: folders.length,
      scanned,
      included: files.length,
      omitted: list.length,
      outlines,
      graph: graph.stats,
      ms: Math.round(performance.now() - t0),
    },
  };
}

/** Bytes of a file's whole segment: at least its tokens, since a token takes at least one byte. */
function segmentBytes(path: string, bytes: number): number {
  return bytes + Buffer.byteLength(path) + HEADER_BYTES;
}

/** Stat without following symlinks: a link may leave the workspace (~/.ssh) or loop. */
async function statAll(
  rootAbs: string,
  paths: readonly string[],
  maxFileBytes: number,
  omitted: Omissions,
  signal: AbortSignal | undefined,
  progress: NonNullable<ContextOptions['onProgress']>,
): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  for (let i = 0; i < paths.length; i += IO_BATCH * 8) {
    signal?.throwIfAborted();
    const batch = paths.slice(i, i + IO_BATCH * 8);
    const stats = await Promise.all(batch.map((p) => lstat(join(rootAbs, p)).catch((e: unknown) => errCode(e))));
    for (let j = 0; j < batch.length; j++) {
      const path = batch[j]!;
      const st = stats[j]!;
      if (typeof st === 'string') {
        omitted.file(path, { reason: 'unreadable', detail: unreadableDetail(path, st) });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(join(rootAbs, path)).catch(() => '?');
        omitted.file(path, { reason: 'symlink', detail: `links to ${target}; links are not followed` });
      } else if (!st.isFile()) {
        omitted.file(path, { reason: 'not-a-file', detail: st.isDirectory() ? 'a folder (submodule?)' : 'not a regular file' });
      } else if (st.size > maxFileBytes) {
        omitted.file(path, { reason: 'too-large', detail: `over ${maxFileBytes} bytes` }, { bytes: st.size });
      } else {
        candidates.push({ path, abs: join(rootAbs, path), bytes: st.size, mtimeMs: st.mtimeMs });
      }
    }
    progress({ phase: 'stat', done: Math.min(i + IO_BATCH * 8, paths.length), total: paths.length });
  }
  return candidates;
}

/**
 * Why lstat failed, in words. A name that is not valid UTF-8 reaches us with U+FFFD in place of its bytes, so the
 * path names no file: the name is at fault, not the file.
 */
function unreadableDetail(path: string, code: string): string {
  if (code !== 'ENOENT') return code;
  if (path.includes('\uFFFD')) return 'its name is not valid UTF-8, so it cannot be opened by name; rename it to read it';
  return 'missing (listed but not on disk)';
}

/**
 * Says which control-token strings a file's segment (its header, so its path, and its text) holds: the
 * tokenizer encodes them as plain text, and the report tells the user they were there.
 */
function controlTextFinder(tokens: readonly string[] | undefined): (text: string) => string | undefined {
  if (!tokens?.length) return () => undefined;
  const escaped = [...tokens].sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(escaped.join('|'), 'g');
  return (text) => {
    const found = new Set(text.match(re));
    if (found.size === 0) return undefined;
    const shown = [...found].slice(0, 4).join(', ') + (found.size > 4 ? ', …' : '');
    return `holds chat control-token text (encoded as plain text): ${shown}`;
  };
}
