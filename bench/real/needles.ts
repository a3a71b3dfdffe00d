// Needles: one-line made-up facts written into the workspace's files as comments, near 10%, 50% and 90% of the
// rendered context, each asked back. A comment survives only in a file that goes in whole or as an outline (the
// tighter 'signatures' level drops comments), and at 4K-8K most of a package's files go in as signatures, so the
// files that keep comments rarely sit at those depths. Which form a file takes follows its rank (imports, kind),
// never its place in the context, and the place follows modification times (least recently changed first; the
// archives carry no git history). So the files are stamped with increasing times in the context's own order, and
// one comment-keeping file per depth is given a time that puts it there; the needles go before its top-level
// statements nearest the target, the context is built again, and each needle's real depth is measured.
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltContext } from '../../src/context/index.ts';
import { languageOf, type Syntax } from '../../src/context/syntax.ts';
import { mulberry32 } from '../../src/runtime/random.ts';
import type { Question } from './facts.ts';

export const NEEDLE_DEPTHS = [0.1, 0.5, 0.9];

const WORDS = ['amber', 'cobalt', 'falcon', 'juniper', 'marble', 'orchid', 'pepper', 'quartz', 'saffron', 'tundra', 'violet', 'walnut'];
const NAMES = [
  'Ines Okafor',
  'Tomas Lindqvist',
  'Priya Castellano',
  'Mateo Varga',
  'Hana Dubois',
  'Oskar Mbeki',
  'Lena Moreau',
  'Ravi Sorensen',
];

/** The made-up facts: what the comment says and what the question asks. */
const TEMPLATES: ((r: () => number) => { fact: string; question: string; answer: string })[] = [
  (r) => {
    const a = `${1000 + Math.floor(r() * 9000)}-${String.fromCharCode(65 + Math.floor(r() * 26), 65 + Math.floor(r() * 26))}`;
    return { fact: `the staging vault code is ${a}.`, question: 'What is the staging vault code?', answer: a };
  },
  (r) => {
    const a = NAMES[Math.floor(r() * NAMES.length)]!;
    return { fact: `the release manager for this module is ${a}.`, question: 'Who is the release manager for this module?', answer: a };
  },
  (r) => {
    const a = String(20000 + Math.floor(r() * 40000));
    return { fact: `the license server listens on port ${a}.`, question: 'On which port does the license server listen?', answer: a };
  },
  (r) => {
    const a = `${WORDS[Math.floor(r() * WORDS.length)]}-${WORDS[Math.floor(r() * WORDS.length)]}-${10 + Math.floor(r() * 90)}`;
    return { fact: `the build cache bucket is named ${a}.`, question: 'What is the build cache bucket named?', answer: a };
  },
  (r) => {
    const a = String(100 + Math.floor(r() * 900));
    return {
      fact: `the maximum batch size agreed with the ops team is ${a}.`,
      question: 'What is the maximum batch size agreed with the ops team?',
      answer: a,
    };
  },
  (r) => {
    const a = `${WORDS[Math.floor(r() * WORDS.length)]!.toUpperCase()}-${Math.floor(r() * 90 + 10)}`;
    return { fact: `the on-call escalation keyword is ${a}.`, question: 'What is the on-call escalation keyword?', answer: a };
  },
];

const CODE = ['javascript', 'typescript', 'tsx', 'python'];

interface Spot {
  path: string;
  /** 0-based line of the original file the needle goes before. */
  line: number;
  /** Its depth in the context built without needles. */
  depth: number;
}

/** Lines before which a comment survives in the rendered context, with their depth there. */
function spots(syntax: Syntax, ctx: BuiltContext, read: (p: string) => string): Spot[] {
  const out: Spot[] = [];
  for (const f of ctx.files) {
    const lang = languageOf(f.path);
    if (f.signatures || !lang || !CODE.includes(lang)) continue;
    const text = read(f.path);
    const tree = syntax.parse(f.path, text);
    if (!tree) continue;
    try {
      const segment = ctx.text.slice(f.contentStart, f.charEnd);
      const lines = text.split('\n');
      let from = 0;
      for (const c of tree.rootNode.namedChildren) {
        if (!c || c.startPosition.column !== 0 || c.type === 'comment') continue;
        const first = lines[c.startPosition.row]!;
        if (first.trim().length < 8) continue;
        const at = segment.indexOf(first, from);
        if (at < 0) continue;
        from = at + first.length;
        const share = (f.contentStart + at - f.charStart) / Math.max(1, f.charEnd - f.charStart);
        out.push({
          path: f.path,
          line: c.startPosition.row,
          depth: (f.tokenStart + share * (f.tokenEnd - f.tokenStart)) / ctx.totalTokens,
        });
      }
    } finally {
      tree.delete();
    }
  }
  return out;
}

/** Modification times of the rearranged order: one file every 10 s from here. */
const BASE_TIME = Date.UTC(2020, 0, 1) / 1000;

/**
 * Restamps the context's files so their order stays as it is, then moves one comment-keeping file (whole or
 * outline, with a top-level statement) to each target depth, the smallest first. Returns the moved files, by depth.
 */
export function arrangeForNeedles(syntax: Syntax, root: string, ctx: BuiltContext, avoid = new Set<string>()): string[] {
  const read = (p: string) => readFileSync(join(root, p), 'utf8');
  const eligible = new Set(spots(syntax, ctx, read).map((s) => s.path));
  const candidates = ctx.files
    .filter((f) => eligible.has(f.path) && !avoid.has(f.path))
    .sort((a, b) => a.tokenEnd - a.tokenStart - (b.tokenEnd - b.tokenStart));
  if (!candidates.length) throw new Error('no place for a needle: no code file goes in whole or as an outline');
  const chosen = NEEDLE_DEPTHS.map((_, i) => candidates[Math.min(i, candidates.length - 1)]!);
  const moved = [...new Set(chosen.map((f) => f.path))];
  const others = ctx.files.filter((f) => !moved.includes(f.path));
  const stamp = (path: string, t: number) => utimesSync(join(root, path), t, t);
  others.forEach((f, i) => stamp(f.path, BASE_TIME + 10 * (i + 1)));
  // Each moved file goes where the others' running token count (plus the moved files before it) reaches its depth.
  let before = 0;
  const placed = new Set<string>();
  NEEDLE_DEPTHS.forEach((d, k) => {
    const f = chosen[k]!;
    if (placed.has(f.path)) return;
    placed.add(f.path);
    const size = f.tokenEnd - f.tokenStart;
    const want = d * ctx.totalTokens - before - size / 2;
    let i = 0;
    for (let run = 0; i < others.length && run + (others[i]!.tokenEnd - others[i]!.tokenStart) / 2 < want; i++)
      run += others[i]!.tokenEnd - others[i]!.tokenStart;
    stamp(f.path, BASE_TIME + 10 * i + 5);
    before += size;
  });
  return moved;
}

export interface Needle extends Question {
  kind: 'needle';
  /** The depth it was aimed at. */
  target: number;
  line: string;
}

/**
 * Writes `perDepth` needles per depth into `files` under `root` (before the statements nearest each depth in `ctx`,
 * the context without them) and returns them; their `depth` is set by `locateNeedles` once the context is built
 * again.
 */
export function plantNeedles(syntax: Syntax, root: string, ctx: BuiltContext, seed: number, perDepth: number, files: string[]): Needle[] {
  const read = (p: string) => readFileSync(join(root, p), 'utf8');
  const all = spots(syntax, ctx, read).filter((s) => files.includes(s.path));
  const random = mulberry32(seed);
  const used = new Set<string>();
  const planted: { spot: Spot; needle: Needle }[] = [];
  let t = 0;
  for (const target of NEEDLE_DEPTHS) {
    for (let k = 0; k < perDepth; k++) {
      const spot = all
        .filter((s) => !used.has(`${s.path}:${s.line}`))
        .sort((a, b) => Math.abs(a.depth - target) - Math.abs(b.depth - target))[0];
      if (!spot) throw new Error('no place for a needle: no file went in whole or as an outline');
      used.add(`${spot.path}:${spot.line}`);
      const { fact, question, answer } = TEMPLATES[t++ % TEMPLATES.length]!(random);
      const mark = languageOf(spot.path) === 'python' ? '#' : '//';
      const line = `${mark} Note: ${fact}`;
      planted.push({ spot, needle: { kind: 'needle', question, accept: [answer], path: spot.path, target, line } });
    }
  }
  // Insert bottom-up per file so earlier line numbers stay valid.
  const byFile = new Map<string, typeof planted>();
  for (const p of planted) byFile.set(p.spot.path, [...(byFile.get(p.spot.path) ?? []), p]);
  for (const [path, list] of byFile) {
    const lines = read(path).split('\n');
    for (const p of [...list].sort((a, b) => b.spot.line - a.spot.line)) lines.splice(p.spot.line, 0, p.needle.line);
    // The file keeps its modification time: the context orders files by it (least recently changed first), and an
    // edited file would move to the end.
    const { atime, mtime } = statSync(join(root, path));
    writeFileSync(join(root, path), lines.join('\n'));
    utimesSync(join(root, path), atime, mtime);
  }
  return planted.map((p) => p.needle);
}

/**
 * Sets each needle's depth in the context built with them (its first token's position over the context's tokens);
 * returns the needles that context lost (a file pushed out of the budget or down to signatures), if any.
 */
export function locateNeedles(ctx: BuiltContext, needles: Needle[], encode: (t: string) => ArrayLike<number>): Needle[] {
  const lost = needles.filter((n) => !ctx.text.includes(n.line));
  if (lost.length) return lost;
  for (const n of needles) {
    const at = ctx.text.indexOf(n.line);
    const f = ctx.files.find((x) => x.charStart <= at && at < x.charEnd)!;
    n.depth = (f.tokenStart + encode(ctx.text.slice(f.charStart, at)).length) / ctx.totalTokens;
  }
  return [];
}
