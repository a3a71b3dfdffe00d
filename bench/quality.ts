// Quality of compressed KV caches on the trained stories260K (issue 3, bar 4): how closely a compressed cache
// follows the full one, KVzip (pair, pair-uniform) against cheap baselines (random, recency window with sinks,
// SnapKV-style made for another question), at several ratios, averaged over several model-written stories.
//
// KVzip-pair-demote-<f>: the same pair selection after punctuation/whitespace-only tokens' scores are multiplied
// by f (src/kvzip/demote.ts; docs/KVZIP.md: kvpress found reconstruction scoring over-values them). Measured at the
// ratios <= 0.5 (and 1.0, free), against kvzip-pair with paired per-context differences.
//
// Run: node --import tsx bench/quality.ts
// Writes bench/results/quality-stories260k.json and .svg, prints a table.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelTokenizer } from '../src/model/tokenizer.ts';
import { openModel } from '../src/runtime/open.ts';
import type { ForwardSession, Candidates } from '../src/runtime/decoder.ts';
import { generate, pick } from '../src/runtime/generate.ts';
import type { KvCache } from '../src/runtime/kv.ts';
import { scoreSchedule, type ScoreChunk } from '../src/kvzip/schedule.ts';
import { questionScores, scoreContext } from '../src/kvzip/score.ts';
import { PairScores } from '../src/kvzip/scores.ts';
import { keptPairs, selectPair } from '../src/kvzip/select.ts';
import { writeCompacted } from '../src/kvzip/compact.ts';
import { applyMultipliers, demoteMultipliers, PUNCT_DEMOTE } from '../src/kvzip/demote.ts';
import { mulberry32 as rng } from '../src/runtime/random.ts';
import {
  DEMOTE_FACTORS,
  DEMOTE_METHODS,
  demoteFactor,
  LOCAL_BASIS,
  METHODS,
  RATIOS,
  ratiosOf,
  selectFor,
  SINKS,
  type DemoteMethod,
  type Method,
} from './quality/methods.ts';
import {
  agreement,
  averages,
  compare,
  logitsOf,
  mean,
  paired,
  sharedKept,
  verdictOf,
  type Forced,
  type Measure,
} from './quality/metrics.ts';
import { printReport, svg } from './quality/report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const MODEL_DIR = resolve(process.env.STORIES260K ?? join(here, '../../shared/models/stories260K'));
const RESULTS = join(here, 'results');
const OUT_JSON = join(RESULTS, 'quality-stories260k.json');
const OUT_SVG = join(RESULTS, 'quality-stories260k.svg');

const MAX_POSITIONS = 512; // stories260K's window: prefix + context + probe + continuation must fit
const CONTEXTS = 32; // greedy agreement is all-or-nothing per near-tie, NLL differences are small: few contexts make both noisy
const CONTEXT_TOKENS = 400;
const HELD_OUT = 96; // the story's true continuation, never cached (BOS + context + held-out fill 497 of 512 positions)
const CONT_TOKENS = 64; // greedy continuation compared with the full cache
const TEMPERATURE = 0.8;
const PROBES = 4; // early sentences: probes 0..2 evaluate every method; probe 3 is SnapKV's own question
const SNAP_PROBE = PROBES - 1;
const BOS = 1;
// Openings: most stories start from BOS alone (different seeds); three from a written first sentence, so the
// contexts are not all "Once upon a time, there was a little girl named Lily".
const OPENINGS = [
  ...Array<string>(12).fill(''),
  'Ben and his dog Spot went to the big lake.',
  'The old robot lived in a small red house.',
  'Mia found a tiny blue key under her bed.',
  'Grandpa Joe had a big green boat.',
  ...Array<string>(12).fill(''),
  'Sam wanted to fly a red kite in the park.',
  'A little cat named Tom was very hungry.',
  'Lucy and her mom baked a big cake.',
  'The sun was hot, so the frog jumped in the pond.',
];

/** Tiny matrices: threading costs more than it saves on 2 shared cores. */
const THREADS = 1;

/** Drops special ids (unk, BOS, EOS) from the candidates, so one continuous story fills the whole context. */
function plainCandidates(c: Candidates): Candidates {
  const keep = c.ids.map((id, i) => [id, i] as const).filter(([id]) => id > 2);
  return { ids: keep.map(([id]) => id), values: Float32Array.from(keep, ([, i]) => c.values[i]) };
}

async function sampleStory(dense: ForwardSession, opening: number[], total: number, seed: number): Promise<number[]> {
  const random = rng(seed);
  let r = await dense.forward([BOS, ...opening], dense.empty());
  const ids = [...opening];
  while (ids.length < total) {
    const next = pick(plainCandidates(r.candidates), TEMPERATURE, 1, random);
    ids.push(next);
    r = await dense.forward([next], r.present);
  }
  return ids;
}

interface Probe {
  /** "\n" + the first half of an early sentence (context tokens). */
  cue: number[];
  /** The sentence's second half, as in the context. */
  answer: number[];
  text: string;
}

/** Early sentences (starting in the first half of the context, ≥ 8 tokens), split in half. */
function findProbes(tok: ModelTokenizer, ctx: number[], newline: number): Probe[] {
  const probes: Probe[] = [];
  let start = 0;
  for (let i = 0; i < ctx.length && start < ctx.length / 2 && probes.length < PROBES; i++) {
    if (!/[.!?]/.test(tok.decode([ctx[i]]))) continue;
    const end = i + 1;
    if (end - start >= 8) {
      const mid = start + Math.floor((end - start) / 2);
      probes.push({ cue: [newline, ...ctx.slice(start, mid)], answer: ctx.slice(mid, end), text: tok.decode(ctx.slice(start, end)) });
    }
    start = end;
  }
  return probes;
}

async function greedy(session: ForwardSession, past: KvCache, prompt: number[], tok: ModelTokenizer): Promise<number[]> {
  const g = await generate(session, prompt, past, { maxTokens: CONT_TOKENS }, { decode: (x) => tok.decode(x) }, 512, MAX_POSITIONS);
  return g.ids;
}

/** The largest chunk whose repeat inputs stay inside the model's window (the reference's 2000 would run past 512). */
function fittingChunks(tok: ModelTokenizer, ids: number[]): { chunk: number; chunks: ScoreChunk[] } {
  const layout = tok.layout();
  for (let chunk = ids.length - 1; chunk > 8; chunk--) {
    const chunks = scoreSchedule(tok, layout, ids, 1, chunk);
    if (Math.max(...chunks.map((c) => ids.length + c.input.length)) <= MAX_POSITIONS) return { chunk, chunks };
  }
  throw new Error('no scoring chunk fits the window');
}

async function main(): Promise<void> {
  if (!existsSync(join(MODEL_DIR, 'config.json'))) {
    console.error(`stories260K not found at ${MODEL_DIR} (set STORIES260K)`);
    process.exit(1);
  }
  const t0 = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'kvzip-quality-'));
  const model = openModel({ modelDir: MODEL_DIR, device: 'cpu', preparedRoot: join(work, 'prep'), allLogits: true, threads: THREADS });
  const { spec } = model;
  const tok = ModelTokenizer.load(MODEL_DIR, spec.eosTokenIds);
  const dense = await model.dense();
  const newline = tok.encode('\n').at(-1)!;

  const results: Record<Method, Record<string, Measure[]>> = Object.fromEntries(
    METHODS.map((m) => [m, Object.fromEntries(ratiosOf(m).map((r) => [r, []]))]),
  ) as never;
  const contexts: unknown[] = [];
  const fullRef: { heldOutNll: number; factNll: number }[] = [];
  const punct: Record<string, { ratio: number; keptShare: number }[]>[] = [];
  const timing = { prefillMs: 0, scoreMs: 0, localScoreMs: 0, sessionsMs: 0, sessions: 0 };
  const localShared: Record<string, number[]> = Object.fromEntries(RATIOS.filter((r) => r <= 0.5).map((r) => [r, []]));

  for (let c = 0; c < CONTEXTS; c++) {
    const opening = OPENINGS[c] ? tok.encode(OPENINGS[c]) : [];
    const story = await sampleStory(dense, opening, CONTEXT_TOKENS + HELD_OUT, 1000 + c);
    const ctx = story.slice(0, CONTEXT_TOKENS);
    const heldOut = story.slice(CONTEXT_TOKENS);
    const ids = [BOS, ...ctx]; // prefix = BOS, the sink at position 0
    const probes = findProbes(tok, ctx, newline);
    if (probes.length < PROBES) throw new Error(`context ${c}: only ${probes.length} probe sentences`);
    const evalProbes = probes.slice(0, SNAP_PROBE);

    let t = performance.now();
    const full = (await dense.prefill(ids, dense.empty(), 512)).present;
    timing.prefillMs += performance.now() - t;
    t = performance.now();
    const { chunk, chunks } = fittingChunks(tok, ids);
    const scores = await scoreContext(dense, full, 1, chunks);
    timing.scoreMs += performance.now() - t;
    t = performance.now();
    const local = applyMultipliers(await scoreContext(dense, full, 1, chunks, 'local'), demoteMultipliers(tok, ctx, PUNCT_DEMOTE));
    timing.localScoreMs += performance.now() - t;
    // SnapKV made for one question (probe 3's cue), then asked the others.
    const snapScores: PairScores = await questionScores(dense, full, 1, probes[SNAP_PROBE].cue);

    // Full-cache references: free-running greedy, and the logits of the teacher-forced comparisons.
    const refCont = await greedy(dense, full, heldOut.slice(0, 1), tok);
    const refProbe: number[][] = [];
    for (const p of probes) refProbe.push(await greedy(dense, full, p.cue, tok));
    const forced = {
      cont: { input: [heldOut[0], ...refCont.slice(0, -1)], from: 0, targets: refCont } as Forced,
      retell: evalProbes.map((p, i): Forced => ({
        input: [...p.cue, ...refProbe[i].slice(0, -1)],
        from: p.cue.length - 1,
        targets: refProbe[i],
      })),
      // The held-out's first token is fed, not scored: the last context position's logits come from the prefill.
      heldOut: { input: heldOut, from: 0, targets: heldOut.slice(1) } as Forced,
      fact: evalProbes.map((p): Forced => ({ input: [...p.cue, ...p.answer], from: p.cue.length - 1, targets: p.answer })),
    };
    for (const f of [forced.cont, forced.heldOut, ...forced.retell, ...forced.fact]) f.ref = await logitsOf(dense, full, f.input);
    const V = spec.vocabSize;
    fullRef.push({
      heldOutNll: compare(forced.heldOut.ref!, undefined, 0, forced.heldOut.targets, V).nll,
      factNll: mean(forced.fact.map((f) => compare(f.ref!, undefined, f.from, f.targets, V).nll)),
    });

    // Reconstruction scoring's bias toward punctuation/whitespace (docs/KVZIP.md): their share of kept pairs.
    // The demote variants select on a copy of the scores with those positions multiplied by f.
    const demoted = new Map<DemoteMethod, PairScores>();
    for (const m of DEMOTE_METHODS) {
      const copy = new PairScores(scores.layers, scores.kvHeads, scores.n);
      copy.data.set(scores.data);
      demoted.set(m, applyMultipliers(copy, demoteMultipliers(tok, ctx, demoteFactor(m))));
    }
    const isPunct = Array.from(demoteMultipliers(tok, ctx, 0.5), (x) => x < 1);
    const punctShare = isPunct.filter(Boolean).length / ctx.length;
    const shareOf = (s: PairScores, m: Method) =>
      ratiosOf(m)
        .filter((r) => r < 1)
        .map((ratio) => {
          const keep = selectPair(s, ratio);
          let p = 0;
          for (const layer of keep) for (const head of layer) for (const i of head) if (isPunct[i]) p++;
          return { ratio, keptShare: p / keptPairs(keep) };
        });
    punct.push(
      Object.fromEntries([['kvzip-pair', shareOf(scores, 'kvzip-pair')], ...DEMOTE_METHODS.map((m) => [m, shareOf(demoted.get(m)!, m)])]),
    );
    contexts.push({
      index: c,
      opening: OPENINGS[c] || '(BOS only)',
      seed: 1000 + c,
      contextTokens: ctx.length,
      scoreChunk: chunk,
      scoreChunks: chunks.length,
      punctuationShare: punctShare,
      text: tok.decode(ctx),
      heldOut: tok.decode(heldOut),
      probes: probes.map((p, i) => ({
        sentence: p.text,
        cue: tok.decode(p.cue),
        role: i === SNAP_PROBE ? 'snapkv-question' : 'eval',
        fullGreedy: tok.decode(refProbe[i]),
      })),
      fullContinuation: tok.decode(refCont),
    });

    const n = ctx.length;
    const L = spec.numLayers;
    const H = spec.numKvHeads;
    const inputs = { scores, demoted, local, snapScores, layers: L, kvHeads: H, n, seed: 7 + c };
    for (const r of Object.keys(localShared))
      localShared[r].push(sharedKept(selectFor(LOCAL_BASIS, Number(r), inputs), selectFor('kvzip-local', Number(r), inputs)));

    let whole: Measure | undefined;
    for (const m of METHODS) {
      for (const r of ratiosOf(m)) {
        t = performance.now();
        const keep = selectFor(m, r, inputs);
        // Every method keeps every pair at 1.0: measure that cache once per context.
        if (keptPairs(keep) === L * H * n && whole) {
          results[m][r].push(whole);
          continue;
        }
        const dir = join(work, `c${c}-${m}-${r}`);
        mkdirSync(dir, { recursive: true });
        const lay = writeCompacted(join(dir, 'kv.bin'), full, 1, keep, spec.headDim);
        const comp = await model.compressed(dir, lay.baked, ids.length, { use: 'prefill' });
        const empty = comp.empty();

        const run = async (f: Forced) => compare(await logitsOf(comp, empty, f.input), f.ref, f.from, f.targets, V);
        const cont = agreement(await greedy(comp, empty, heldOut.slice(0, 1), tok), refCont);
        const probeAgree: { match: number; firstDiv: number }[] = [];
        for (const [i, p] of probes.entries()) probeAgree.push(agreement(await greedy(comp, empty, p.cue, tok), refProbe[i]));
        const evalAgree = probeAgree.slice(0, SNAP_PROBE);
        const contF = await run(forced.cont);
        const heldF = await run(forced.heldOut);
        const retellF = [];
        for (const f of forced.retell) retellF.push(await run(f));
        const factF = [];
        for (const f of forced.fact) factF.push(await run(f));
        const measure: Measure = {
          kept: keptPairs(keep) / (L * H * n),
          retellMatch: mean(evalAgree.map((a) => a.match)),
          retellFirstDiv: mean(evalAgree.map((a) => a.firstDiv)),
          retellKl: mean(retellF.map((x) => x.kl)),
          retellTop1: mean(retellF.map((x) => x.top1)),
          contMatch: cont.match,
          contFirstDiv: cont.firstDiv,
          contKl: contF.kl,
          contTop1: contF.top1,
          heldOutNll: heldF.nll,
          heldOutKl: heldF.kl,
          factNll: mean(factF.map((x) => x.nll)),
          factKl: mean(factF.map((x) => x.kl)),
          heldOutNllGap: Math.abs(heldF.nll - fullRef[c].heldOutNll),
          factNllGap: Math.abs(mean(factF.map((x) => x.nll)) - fullRef[c].factNll),
          snapProbeMatch: probeAgree[SNAP_PROBE].match,
        };
        results[m][r].push(measure);
        if (keptPairs(keep) === L * H * n) whole = measure;
        await comp.session.release();
        rmSync(dir, { recursive: true, force: true });
        timing.sessionsMs += performance.now() - t;
        timing.sessions++;
      }
    }
    console.error(`context ${c + 1}/${CONTEXTS} done (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  rmSync(work, { recursive: true, force: true });

  const avg = averages(results);
  const fullAvg = { heldOutNll: mean(fullRef.map((f) => f.heldOutNll)), factNll: mean(fullRef.map((f) => f.factNll)) };
  const verdict = verdictOf(results, avg);
  const seconds = (performance.now() - t0) / 1000;

  const punctOf = (m: Method) =>
    ratiosOf(m)
      .filter((r) => r < 1)
      .map((ratio, i) => ({ ratio, keptShare: mean(punct.map((p) => p[m][i].keptShare)) }));
  const punctAvg = punctOf('kvzip-pair');

  // Demotion against plain kvzip-pair, paired per context (same contexts, same probes): mean difference (variant −
  // pair, sign-adjusted so > 0 is better), its standard error, and per-context wins/ties/losses.
  const DEMOTE_METRICS: (keyof Measure)[] = [
    'retellMatch',
    'retellFirstDiv',
    'retellKl',
    'retellTop1',
    'factKl',
    'factNllGap',
    'contMatch',
    'contKl',
    'contTop1',
    'heldOutKl',
  ];
  const demoteVsPair = Object.fromEntries(
    DEMOTE_METHODS.map((m) => [
      m,
      Object.fromEntries(
        RATIOS.filter((r) => r <= 0.5).map((r) => [
          r,
          Object.fromEntries(DEMOTE_METRICS.map((k) => [k, paired(results, m, 'kvzip-pair', r, k)])),
        ]),
      ),
    ]),
  );
  // Local scoring against the shipped exact method, paired the same way.
  const localVsExact = {
    'kvzip-local': Object.fromEntries(
      RATIOS.filter((r) => r <= 0.5).map((r) => [
        r,
        Object.fromEntries(DEMOTE_METRICS.map((k) => [k, paired(results, 'kvzip-local', LOCAL_BASIS, r, k)])),
      ]),
    ),
  };
  const localKeptShared = Object.entries(localShared).map(([r, xs]) => ({ ratio: Number(r), shared: mean(xs) }));
  const json = {
    model: 'stories260K',
    date: new Date().toISOString(),
    setup: {
      sequence: '[BOS][context]; prefix = BOS (the sink, always kept)',
      contexts: CONTEXTS,
      contextTokens: CONTEXT_TOKENS,
      heldOutTokens: HELD_OUT,
      continuationTokens: CONT_TOKENS,
      temperature: TEMPERATURE,
      ratios: RATIOS,
      methods: METHODS,
      recencySinks: SINKS,
      probes:
        'early sentences (start in the first half, >= 8 tokens): cue = "\\n" + first half; probes 0..2 evaluate, probe 3 is the question SnapKV is made for',
      metrics: {
        retellMatch: 'retelling cues (probes 0..2): greedy 64 after the cue; fraction of positions equal to the full cache',
        retellFirstDiv: 'retelling cues: first differing position (64 = none), mean',
        retellKl: "retelling cues, teacher-forced on the full cache's greedy tokens: mean KL(full || compressed), nats",
        retellTop1: 'retelling cues, teacher-forced: fraction of positions whose argmax equals the full cache',
        factNll: "mean NLL of each probe sentence's true second half after its first half (cue)",
        factKl: 'the same positions: mean KL(full || compressed)',
        factNllGap: "|factNll - the full cache's factNll| per context, averaged",
        heldOutNllGap: "|heldOutNll - the full cache's heldOutNll| per context, averaged",
        contMatch: 'plain continuation: after the context, feed its true next token, greedy 64; fraction equal to the full cache',
        contFirstDiv: 'plain continuation: first differing position (64 = none)',
        contKl: 'plain continuation, teacher-forced: mean KL(full || compressed)',
        contTop1: 'plain continuation, teacher-forced: argmax agreement',
        heldOutNll: `mean NLL (nats/token) of the story's true next ${HELD_OUT} tokens (first one fed, not scored), never cached`,
        heldOutKl: 'the same positions: mean KL(full || compressed)',
        snapProbeMatch: 'greedy agreement on the probe SnapKV was made for',
      },
      scoring:
        "KVzip reconstruction scoring with the largest chunk whose repeat input fits the 512-position window; kvzip-local: the same chunks, each repeat input attending to BOS and its own chunk only (the engine's local level), demoted as shipped",
    },
    seconds,
    timing,
    full: fullAvg,
    averages: avg,
    verdict,
    punctuation: {
      rule: "token's text (decoded after an anchor word) is whitespace and/or \\p{P} only (src/kvzip/demote.ts)",
      contextShare: mean(contexts.map((c) => (c as { punctuationShare: number }).punctuationShare)),
      keptShareKvzipPair: punctAvg,
      keptShareDemote: Object.fromEntries(DEMOTE_METHODS.map((m) => [m, punctOf(m)])),
    },
    demoteVsPair: {
      rule: 'per context: variant minus kvzip-pair, sign-adjusted so > 0 is better; better = mean over contexts, se = its standard error, wins/ties/losses = contexts',
      factors: DEMOTE_FACTORS,
      byMethod: demoteVsPair,
    },
    localVsExact: {
      rule: `per context: kvzip-local minus ${LOCAL_BASIS} (exact scoring, the same selection), sign-adjusted so > 0 is closer to the full cache`,
      byMethod: localVsExact,
      keptShared: localKeptShared,
    },
    perContext: results,
    fullPerContext: fullRef,
    contexts,
  };
  mkdirSync(RESULTS, { recursive: true });
  // Five significant digits are plenty and keep the file small.
  writeFileSync(
    OUT_JSON,
    JSON.stringify(json, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v), 1) + '\n',
  );
  writeFileSync(OUT_SVG, svg(avg, fullAvg));

  printReport({
    contexts: CONTEXTS,
    contextTokens: CONTEXT_TOKENS,
    full: fullAvg,
    avg,
    verdict,
    demoteMetrics: DEMOTE_METRICS,
    demoteVsPair,
    localVsExact,
    localKeptShared,
    contextShare: json.punctuation.contextShare,
    punctOf,
    timing,
    seconds,
    wrote: [OUT_JSON, OUT_SVG],
  });
}

await main();
