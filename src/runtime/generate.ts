// The generation loop: greedy by default, temperature/top-p over the graph's top candidates, stop on EOS,
// stop strings or max tokens, streaming and cancellation.
import type { Candidates, ForwardSession } from './decoder.ts';
import type { KvCache } from './kv.ts';
import { mulberry32 } from './random.ts';

export interface SamplingOptions {
  maxTokens: number;
  /** 0 means greedy. */
  temperature?: number;
  topP?: number;
  seed?: number;
  stopIds?: number[];
  stopStrings?: string[];
  signal?: AbortSignal;
}

export interface GenerateCallbacks {
  /** Decodes ids to text, for stop strings and streaming. */
  decode: (ids: number[]) => string;
  /** Receives each new piece of text as it is produced. */
  onText?: (text: string) => void;
}

export interface GenerateResult {
  ids: number[];
  text: string;
  stopReason: 'eos' | 'stop-string' | 'max-tokens' | 'cancelled' | 'context-full';
  /** Time to the first new token (ms), including the prompt's forward pass. */
  firstTokenMs: number;
  decodeMsPerToken: number;
  bytesPerStep: number;
  kv: KvCache;
  /**
   * The attention on the cached context, per source bucket, summed over the `runs` that chose the answer's tokens
   * (the prompt's last position, then each step; graph/sources.ts). Only from graphs that output it.
   */
  sources?: { mass: Float64Array; runs: number };
}

export function pick(c: Candidates, temperature: number, topP: number, random: () => number): number {
  if (temperature <= 0) return c.ids[0];
  const scaled = Array.from(c.values, (v) => v / temperature);
  const max = scaled[0];
  const probs = scaled.map((v) => Math.exp(v - max));
  const total = probs.reduce((a, b) => a + b, 0);
  let kept = 0;
  let mass = 0;
  while (kept < probs.length && mass < topP) mass += probs[kept++] / total;
  let r = random() * mass;
  for (let i = 0; i < kept; i++) {
    r -= probs[i] / total;
    if (r <= 0) return c.ids[i];
  }
  return c.ids[kept - 1];
}

/**
 * Generates after `promptIds` (fed on top of `past`). The first step can be a chunked prefill of the prompt.
 * `maxPositions` bounds the sequence (the model's window).
 */
export async function generate(
  session: ForwardSession,
  promptIds: number[],
  past: KvCache,
  o: SamplingOptions,
  cb: GenerateCallbacks,
  prefillChunk = 512,
  maxPositions = Infinity,
): Promise<GenerateResult> {
  const random = mulberry32(o.seed ?? 0);
  const stopIds = new Set(o.stopIds ?? []);
  const holdBack = Math.max(0, ...(o.stopStrings ?? []).map((s) => s.length - 1));
  const t0 = performance.now();
  const first = await session.prefill(promptIds, past, prefillChunk, o.signal);
  let kv = first.present;
  let candidates = first.candidates;
  let sources: GenerateResult['sources'];
  const addSources = (s?: Float32Array) => {
    if (!s) return;
    sources ??= { mass: new Float64Array(s.length), runs: 0 };
    for (let i = 0; i < s.length; i++) sources.mass[i] += s[i];
    sources.runs++;
  };
  addSources(first.sources);
  const firstTokenMs = performance.now() - t0;
  const ids: number[] = [];
  let text = '';
  let stopReason: GenerateResult['stopReason'] = 'max-tokens';
  let steps = 0;
  let bytes = 0;
  const tDecode = performance.now();
  while (ids.length < o.maxTokens) {
    if (o.signal?.aborted) {
      stopReason = 'cancelled';
      break;
    }
    const next = pick(candidates, o.temperature ?? 0, o.topP ?? 1, random);
    if (stopIds.has(next)) {
      stopReason = 'eos';
      break;
    }
    ids.push(next);
    const full = cb.decode(ids);
    const stop = o.stopStrings?.find((s) => s && full.includes(s));
    if (stop) {
      const cut = full.slice(0, full.indexOf(stop));
      if (cut.length > text.length) cb.onText?.(cut.slice(text.length));
      text = cut;
      stopReason = 'stop-string';
      break;
    }
    // Hold back text that may still become a stop string, and an incomplete UTF-8 sequence.
    const safe = full.endsWith('\uFFFD') ? text.length : Math.max(text.length, full.length - holdBack);
    if (safe > text.length) {
      cb.onText?.(full.slice(text.length, safe));
      text = full.slice(0, safe);
    }
    if (ids.length >= o.maxTokens) break;
    if (session.basePosition + kv.length + 1 > maxPositions) {
      stopReason = 'context-full';
      break;
    }
    const r = await session.forward([next], kv);
    if (kv !== past) session.release(kv);
    kv = r.present;
    candidates = r.candidates;
    addSources(r.sources);
    bytes += r.bytesMoved;
    steps++;
  }
  const full = cb.decode(ids);
  if (stopReason !== 'stop-string' && full.length > text.length) {
    cb.onText?.(full.slice(text.length));
    text = full;
  }
  return {
    ids,
    text,
    stopReason,
    firstTokenMs,
    decodeMsPerToken: steps ? (performance.now() - tDecode) / steps : 0,
    bytesPerStep: steps ? bytes / steps : 0,
    kv,
    ...(sources ? { sources } : {}),
  };
}
