// The context preview as text, for the CLI and the extension's "KVzip: Show Context": what goes in (whole or
// outline) by rank, every omission with its reason, the totals, and the build's estimated memory and time.
import type { OmittedFile } from '../context/index.ts';
import { formatBytes } from '../model/memory.ts';
import type { ContextPreview } from './protocol.ts';

const n = (x: number): string => x.toLocaleString('en-US');

export function duration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function omission(o: OmittedFile): string {
  const rank = o.rank === undefined ? '' : String(o.rank);
  const tokens = o.tokens === undefined ? '' : n(o.tokens);
  return `  ${rank.padStart(6)}  ${tokens.padStart(8)}  ${o.reason.padEnd(12)} ${o.path || '(rest of the tree)'}${o.detail ? ` — ${o.detail}` : ''}`;
}

export function previewText(p: ContextPreview): string {
  const { report: r, limit, estimate: e } = p;
  const lines: string[] = [];
  lines.push(`Context of ${p.workspace}`);
  if (p.download)
    lines.push(
      `  ${p.download.model} is not downloaded yet: the build first downloads ${formatBytes(p.download.bytes)} of weights (${p.download.repo})`,
    );
  lines.push(
    `  model ${p.modelDir}: window ${n(limit.window)} tokens = ${n(limit.prefixTokens)} prompt prefix + ${n(limit.reserveTokens)} answer reserve + ${n(limit.maxTokens)} for files`,
  );
  const outlines = r.included.filter((f) => f.outline).length;
  lines.push(
    '',
    `Goes in: ${n(r.included.length)} files, ${n(r.totalTokens)} tokens (${n(outlines)} as outlines, function bodies left out)`,
  );
  lines.push(`  ${'rank'.padStart(6)}  ${'tokens'.padStart(8)}  ${'form'.padEnd(8)} ${'kind'.padEnd(8)} path`);
  for (const f of [...r.included].sort((a, b) => a.rank - b.rank)) {
    lines.push(
      `  ${String(f.rank).padStart(6)}  ${n(f.tokens).padStart(8)}  ${(f.outline ? 'outline' : 'whole').padEnd(8)} ${f.kind.padEnd(8)} ${f.path}${f.note ? ` — ${f.note}` : ''}`,
    );
  }
  const budget = r.omitted.filter((o) => o.reason === 'budget').sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  const other = r.omitted.filter((o) => o.reason !== 'budget');
  lines.push('', `Left out: ${n(r.omitted.length)} (${n(budget.length)} over the budget)`);
  lines.push(`  ${'rank'.padStart(6)}  ${'tokens'.padStart(8)}  ${'reason'.padEnd(12)} path — why`);
  for (const o of [...budget, ...other]) lines.push(omission(o));
  const g = r.stats.graph;
  lines.push(
    '',
    `Totals: ${n(r.stats.scanned)} files scanned, ${n(r.included.length)} in (${n(r.totalTokens)} tokens), ${n(r.omitted.length)} left out; ` +
      `import graph from ${n(g.parsed)} of ${n(g.parseable)} parseable files (${n(g.edges)} imports${g.capped ? `, ${n(g.capped)} past the parse cap` : ''}); ` +
      `previewed in ${(p.ms / 1000).toFixed(1)} s`,
  );
  const m = e.memory;
  const breakdown = `${formatBytes(m.totalBytes)} (weights ${formatBytes(m.weightsBytes)}, KV ${formatBytes(m.kvBytes)}, working ${formatBytes(m.activationBytes + m.runtimeBytes)})`;
  // On the CPU the verdict's message already gives the breakdown against the free RAM.
  lines.push(
    `Build estimate on ${e.device} (${e.weights}) for ${n(p.sequenceTokens)} tokens: ${e.fits === undefined ? `memory ${breakdown}; ${e.message}` : e.message}`,
  );
  if (e.buildSeconds !== undefined) lines.push(`  build time about ${duration(e.buildSeconds)} (${e.buildBasis})`);
  else lines.push(`  build time not estimated for ${e.device} ${e.weights}: no measured rate to scale from`);
  return lines.join('\n');
}
