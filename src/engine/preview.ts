// The context preview: what a build would put in the context, and what it would cost, before any prefill.
// It reads only the model's config.json and tokenizer files, never the weights, so it answers in seconds for
// a model not yet prepared (or a folder holding only those files).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { contextReport } from '../context/index.ts';
import { BUILD_TIME_BASIS, estimateBuildSeconds } from '../model/buildTime.ts';
import { loadModelSpec } from '../model/config.ts';
import { modelFolder } from '../model/gguf/import.ts';
import { UserError } from '../core/errors.ts';
import { estimateMemory, memoryVerdict } from '../model/memory.ts';
import { locateModel } from '../model/stores.ts';
import { ModelTokenizer } from '../model/tokenizer.ts';
import { DEFAULT_CHUNK, fittingChunk, longestChunk } from '../kvzip/schedule.ts';
import type { ProgressFn } from '../core/progress.ts';
import type { CacheSettings, ContextPreview } from './protocol.ts';
import { contextLimit, workspaceContext } from './workspaceContext.ts';

const PREFILL_CHUNK = 512;

/** The model the preview reads: one on this machine (a path or a store), or a preset already downloaded. */
function previewModelDir(model: string, cacheDir: string): string {
  const found = locateModel(model);
  if (found.store !== 'download') return found.path;
  const { preset } = found;
  const dir = join(cacheDir, 'hub', preset.repo.replace('/', '--'));
  if (existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'tokenizer.json'))) return dir;
  throw new UserError(
    `${preset.label} is not downloaded yet, and the preview reads its config.json and tokenizer files: run a build once, or pass --model with a folder that holds them`,
    'preview-model',
  );
}

export async function previewContext(s: CacheSettings, progress?: ProgressFn, signal?: AbortSignal): Promise<ContextPreview> {
  const t0 = performance.now();
  const dir = await modelFolder(previewModelDir(s.model, s.cacheDir), s.cacheDir);
  const spec = loadModelSpec(dir);
  const tokenizer = ModelTokenizer.load(dir, spec.eosTokenIds);
  const limit = contextLimit(spec, tokenizer, s.maxContextTokens);
  const ctx = await workspaceContext(s, spec, tokenizer, undefined, signal, progress);
  const sequenceTokens = limit.prefixTokens + ctx.totalTokens;

  const device = s.device === 'cuda' ? 'cuda' : 'cpu';
  const scoreChunk = fittingChunk(DEFAULT_CHUNK, sequenceTokens, limit.window);
  const weights = s.int4 ? 'int4' : device === 'cuda' ? 'fp16' : 'fp32';
  const input = {
    shape: spec,
    device,
    weights,
    contextTokens: sequenceTokens,
    chunkTokens: PREFILL_CHUNK,
    scoreChunkTokens: longestChunk(scoreChunk),
    scoring: s.scoring ?? 'exact',
  } as const;
  let estimate: ContextPreview['estimate'];
  if (device === 'cpu') {
    const v = memoryVerdict(input);
    estimate = { device, weights, memory: v.estimate, fits: v.fits, message: v.message };
    if (weights === 'fp32') {
      estimate.buildSeconds = estimateBuildSeconds(spec, sequenceTokens, input.scoring, scoreChunk);
      estimate.buildBasis = BUILD_TIME_BASIS;
    }
  } else {
    // The GPU's free memory is known only once the engine opens the device.
    estimate = { device, weights, memory: estimateMemory(input), message: 'GPU memory is checked when the build opens the device.' };
  }
  return {
    workspace: s.workspace,
    modelDir: dir,
    limit,
    report: contextReport(ctx),
    sequenceTokens,
    estimate,
    ms: Math.round(performance.now() - t0),
  };
}
