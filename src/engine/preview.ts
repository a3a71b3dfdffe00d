// The context preview: what a build would put in the context, and what it would cost, before any prefill.
// It reads only the model's config.json and tokenizer files, never the weights, so it answers in seconds for
// a model not yet prepared (or a folder holding only those files). For a preset not downloaded yet it fetches
// those small files first (a few MB, into the folder the build's download later completes) and says how much
// the weights still to download weigh.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { contextReport } from '../context/index.ts';
import { loadModelSpec } from '../model/config.ts';
import { modelFolder } from '../model/gguf/import.ts';
import { ggufWeightsBytes } from '../model/gguf/size.ts';
import { UserError } from '../core/errors.ts';
import { downloadFile, fileInfo, HubError, resolveUrl } from '../model/hub.ts';
import type { ModelSpec } from '../model/config.ts';
import type { ModelShape } from '../model/presets.ts';
import { isGgufFile, locateModel } from '../model/stores.ts';
import type { ProgressFn } from '../core/progress.ts';
import type { CacheSettings, ContextPreview } from './protocol.ts';
import { buildEstimate, presetDownloadBytes } from './estimate.ts';
import { presetDownloaded, presetFolder } from './resolveModel.ts';
import { contextLimit, workspaceContext } from './workspaceContext.ts';
import { checkCacheNotWorkspace } from './workspace.ts';
import { checkCacheDir } from './cacheLocation.ts';
import { modelTokenizer } from './tokenizers.ts';

/** What the preview reads of a model: the first files the Hub download fetches. */
const PREVIEW_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];

/** The model the preview reads, and for a preset whose weights are not here yet, what the build downloads. */
async function previewModel(s: CacheSettings, signal?: AbortSignal): Promise<{ dir: string; download?: ContextPreview['download'] }> {
  const found = locateModel(s.model);
  if (found.store !== 'download') return { dir: found.path };
  const { preset } = found;
  const dir = presetFolder(s.cacheDir, preset);
  if (presetDownloaded(dir)) return { dir };
  checkCacheDir(s.cacheDir);
  const opts = { revision: preset.revision, token: s.hfToken, signal };
  try {
    for (const file of PREVIEW_FILES) {
      if (existsSync(join(dir, file))) continue;
      const info = await fileInfo(preset.repo, file, opts);
      await downloadFile(resolveUrl(preset.repo, file, preset.revision), join(dir, file), {
        ...opts,
        sha256: info.sha256,
        size: info.size,
        label: file,
        context: { repo: preset.repo },
      });
    }
  } catch (e) {
    if (!(e instanceof HubError)) throw e;
    throw new UserError(
      `${preset.label} is not downloaded yet, and its config.json and tokenizer files, which the preview reads, could not be fetched: ${e.message}`,
      `download-${e.code}`,
    );
  }
  return { dir, download: { model: preset.label, repo: preset.repo, bytes: presetDownloadBytes(preset) } };
}

/** The fields of the spec that decide a build's cost, for a client that weighs other settings (the extension). */
function shapeOf(spec: ModelSpec): ModelShape {
  const { hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, vocabSize, tieWordEmbeddings, qkvBias, qkNorm } = spec;
  return { hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, vocabSize, tieWordEmbeddings, qkvBias, qkNorm };
}

export async function previewContext(s: CacheSettings, progress?: ProgressFn, signal?: AbortSignal): Promise<ContextPreview> {
  const t0 = performance.now();
  checkCacheNotWorkspace(s);
  const model = await previewModel(s, signal);
  // The preview writes into the cache folder only to fetch a preset's files (above) or import a GGUF's metadata,
  // so only then must the folder be usable; the engine does not check it up front for a preview.
  if (isGgufFile(model.dir)) checkCacheDir(s.cacheDir);
  const dir = await modelFolder(model.dir, s.cacheDir);
  const spec = loadModelSpec(dir);
  const tokenizer = modelTokenizer(dir, spec.eosTokenIds);
  const limit = contextLimit(spec, tokenizer, s.maxContextTokens);
  const ctx = await workspaceContext(s, spec, tokenizer, undefined, signal, progress);
  const sequenceTokens = limit.prefixTokens + ctx.totalTokens;
  const gguf = ggufWeightsBytes(dir, s.device === 'cuda' ? 'cuda' : 'cpu');
  return {
    workspace: s.workspace,
    modelDir: dir,
    ...(model.download ? { download: model.download } : {}),
    shape: shapeOf(spec),
    limit,
    report: contextReport(ctx),
    sequenceTokens,
    estimate: buildEstimate(spec, sequenceTokens, limit.window, s, gguf),
    ...(gguf !== undefined ? { ggufWeightsBytes: gguf } : {}),
    ms: Math.round(performance.now() - t0),
  };
}
