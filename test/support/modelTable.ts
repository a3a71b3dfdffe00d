// The README's table of presets ("Getting a model"): download size, memory and CPU build time at 8K and 32K
// tokens, computed by the same code the preview and the build confirmation use. `node --import tsx
// test/support/modelTable.ts` prints it; test/unit/readme-models.test.ts checks the README holds it as printed.
import { pathToFileURL } from 'node:url';
import { buildEstimate, presetDownloadBytes } from '../../src/engine/estimate.ts';
import { duration } from '../../src/engine/previewText.ts';
import { ANSWER_RESERVE } from '../../src/engine/workspaceContext.ts';
import { formatBytes } from '../../src/model/memory.ts';
import { HUB_PRESETS } from '../../src/model/presets.ts';

/** The windows the table is computed at: `--max-context-tokens` / `kvzipCode.maxContextTokens`. */
export const TABLE_WINDOWS = [8192, 32768] as const;

/** Tokens a build prefills when the workspace fills the window: all of it but the answer reserve. */
function fullSequence(window: number): number {
  return window - Math.min(ANSWER_RESERVE, Math.floor(window / 4));
}

function cells(shape: (typeof HUB_PRESETS)[number]['shape'], window: number): [string, string] {
  const tokens = fullSequence(window);
  const fp32 = buildEstimate(shape, tokens, window, { device: 'cpu', scoring: 'exact' });
  const local = buildEstimate(shape, tokens, window, { device: 'cpu', scoring: 'local' });
  const int4 = buildEstimate(shape, tokens, window, { device: 'cpu', int4: true });
  return [
    `${formatBytes(fp32.memory.totalBytes)} (${formatBytes(int4.memory.totalBytes)})`,
    `${duration(fp32.buildSeconds!)} (${duration(local.buildSeconds!)})`,
  ];
}

export function presetTable(): string {
  const k = (w: number) => `${w / 1024}K`;
  const head = [
    'preset (`--model`, `kvzipCode.model`)',
    'download',
    ...TABLE_WINDOWS.flatMap((w) => [`RAM at ${k(w)}: fp32 (int4)`, `CPU build at ${k(w)}: exact (local scoring)`]),
  ];
  const rows = HUB_PRESETS.map((p) => [
    `\`${p.id}\` (${p.repo}${p.gated ? ', gated' : ''})`,
    formatBytes(presetDownloadBytes(p)),
    ...TABLE_WINDOWS.flatMap((w) => cells(p.shape, w)),
  ]);
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(presetTable());
