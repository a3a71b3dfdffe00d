// Whether a build asks first, what the question says, and the smaller settings it offers, all from the context
// preview: a first build can mean a multi-GB download and, on a laptop's CPU, most of an hour. No VS Code here:
// confirmBuild.ts shows this as a dialog.
import type { ContextPreview } from '../engine/protocol.ts';
import { buildEstimate, type EstimateSettings } from '../engine/estimate.ts';
import { duration } from '../engine/previewText.ts';
import { formatBytes } from '../model/memory.ts';

/** A build estimated over this long asks first, as does any download. */
export const CONFIRM_SECONDS = 120;
/** The shortest context offered: much below it little of a repository fits. */
const MIN_OFFERED_CONTEXT = 2048;
/** Local scoring is offered when it saves at least this share of the build. */
const LOCAL_SAVING = 0.1;

export type Smaller =
  | { setting: 'maxContextTokens'; value: number; label: string }
  | { setting: 'scoring'; value: 'local'; label: string }
  | { setting: 'int4'; value: true; label: string };

const n = (x: number): string => x.toLocaleString('en-US');

export function needsConfirmation(p: ContextPreview): boolean {
  return !!p.download || (p.estimate.buildSeconds ?? 0) > CONFIRM_SECONDS || p.estimate.fits === false;
}

/** What a build that prefills at most `window` positions would prefill: the files' budget shrinks with it. */
function sequenceIn(p: ContextPreview, window: number): number {
  const reserve = Math.min(p.limit.reserveTokens, Math.floor(window / 4));
  return Math.min(p.sequenceTokens, window - reserve);
}

/** Within the confirmation's bar: the time when there is one, else the memory. */
function acceptable(e: ContextPreview['estimate']): boolean {
  return e.buildSeconds !== undefined ? e.buildSeconds <= CONFIRM_SECONDS && e.fits !== false : e.fits !== false;
}

function cost(e: ContextPreview['estimate']): string {
  return e.buildSeconds !== undefined ? `about ${duration(e.buildSeconds)}` : `${formatBytes(e.memory.totalBytes)} of memory`;
}

/**
 * Settings that make the build smaller, each with what it would cost: the longest context (in steps of 1024
 * tokens) within the bar, local scoring when it saves time, and int4 weights.
 */
export function smallerSettings(p: ContextPreview, s: EstimateSettings): Smaller[] {
  const out: Smaller[] = [];
  const at = (window: number) => buildEstimate(p.shape, sequenceIn(p, window), window, s, p.ggufWeightsBytes);
  let window = MIN_OFFERED_CONTEXT;
  for (let w = Math.floor((p.limit.window - 1) / 1024) * 1024; w > MIN_OFFERED_CONTEXT; w -= 1024) {
    if (acceptable(at(w))) {
      window = w;
      break;
    }
  }
  if (sequenceIn(p, window) < p.sequenceTokens)
    out.push({ setting: 'maxContextTokens', value: window, label: `Shorter Context: ${n(window)} tokens (${cost(at(window))})` });
  const now = p.estimate.buildSeconds;
  if ((s.scoring ?? 'exact') === 'exact' && now !== undefined) {
    const local = buildEstimate(p.shape, p.sequenceTokens, p.limit.window, { ...s, scoring: 'local' }, p.ggufWeightsBytes);
    if (local.buildSeconds !== undefined && local.buildSeconds < (1 - LOCAL_SAVING) * now)
      out.push({ setting: 'scoring', value: 'local', label: `Local Scoring (${cost(local)})` });
  }
  // A GGUF keeps its own blocks: int4 would not make it smaller.
  if (!s.int4 && p.ggufWeightsBytes === undefined) {
    const int4 = buildEstimate(p.shape, p.sequenceTokens, p.limit.window, { ...s, int4: true });
    out.push({ setting: 'int4', value: true, label: `int4 Weights (${formatBytes(int4.memory.totalBytes)} of memory)` });
  }
  return out;
}

/** The dialog's question and its details: download, what goes in, memory, time, and where the smaller settings go. */
export function confirmationText(p: ContextPreview): { message: string; detail: string; build: string } {
  const e = p.estimate;
  const r = p.report;
  const outlines = r.included.filter((f) => f.outline).length;
  const time = e.buildSeconds !== undefined ? `about ${duration(e.buildSeconds)}` : undefined;
  const message = p.download
    ? `Download ${p.download.model} (${formatBytes(p.download.bytes)}) and build the cache for this workspace?`
    : `Build the cache for this workspace?${time ? ` It takes ${time} on this machine's CPU.` : ''}`;
  const lines = [
    ...(p.download
      ? [`Download: ${formatBytes(p.download.bytes)} of weights from the Hugging Face Hub (${p.download.repo}), once for every workspace.`]
      : []),
    `Context: ${n(r.included.length)} of ${n(r.stats.scanned)} files (${n(outlines)} as outlines), ${n(p.sequenceTokens)} tokens of a ${n(p.limit.window)}-token window.`,
    `Memory: ${e.message}`,
    e.buildSeconds !== undefined
      ? `Build: about ${duration(e.buildSeconds)} (${e.buildBasis}; a machine with more or faster cores takes less).`
      : `Build time: not estimated for ${e.device} with ${e.weights} weights (no measured rate to scale from).`,
    'A smaller setting changes kvzipCode.maxContextTokens, kvzipCode.scoring or kvzipCode.int4 in your user settings, then asks again.',
  ];
  return { message, detail: lines.join('\n'), build: p.download ? 'Download and Build' : 'Build' };
}
