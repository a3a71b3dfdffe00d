// A model setting names a checkpoint folder or a GGUF file on this machine (src/model/stores.ts: a path, an Ollama
// or LM Studio model, a Hub repo in the Hugging Face cache), or a preset. A preset found nowhere on disk is
// downloaded from the Hub once, into the cache folder, with progress, and resumed if an earlier download stopped.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { downloadModel, HubError } from '../model/hub.ts';
import { locateModel } from '../model/stores.ts';
import type { HubPreset } from '../model/presets.ts';
import { UserError } from '../core/errors.ts';
import type { ProgressFn } from '../core/progress.ts';

const COMPLETE = '.kvzip-complete';

/** Where a preset's download lives in the cache folder. */
export function presetFolder(cacheDir: string, preset: HubPreset): string {
  return join(cacheDir, 'hub', preset.repo.replace('/', '--'));
}

/** Whether every file of the preset's download is there (the marker is written last). */
export function presetDownloaded(dir: string): boolean {
  return existsSync(join(dir, COMPLETE));
}

/**
 * Whether resolveModel would find the model on this machine without downloading it: true, or why not (a preset not
 * downloaded yet, or a setting that names nothing here).
 */
export function modelIsLocal(model: string, cacheDir: string): true | string {
  try {
    const found = locateModel(model);
    if (found.store !== 'download' || presetDownloaded(presetFolder(cacheDir, found.preset))) return true;
    return `${found.preset.label} is not downloaded yet`;
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
}

/**
 * The local path a model setting resolves to: a folder holding config.json, or a GGUF file (a split model's first
 * shard). Throws a UserError that says where it looked when the setting names nothing here.
 */
export async function resolveModel(
  model: string,
  cacheDir: string,
  o: { token?: string; signal?: AbortSignal; progress?: ProgressFn } = {},
): Promise<string> {
  // A folder holding config.json, or a GGUF file (a split model's first shard; an Ollama blob has no .gguf name).
  const found = locateModel(model);
  if (found.store !== 'download') return found.path;
  const { preset } = found;
  const dir = presetFolder(cacheDir, preset);
  if (presetDownloaded(dir)) return dir;
  try {
    await downloadModel(preset.repo, dir, {
      revision: preset.revision,
      token: o.token,
      signal: o.signal,
      onProgress: (p) => o.progress?.('download', p.overallBytes, p.overallTotal ?? 0, preset.label),
    });
  } catch (e) {
    if (e instanceof HubError) throw new UserError(e.message, `download-${e.code}`);
    throw e;
  }
  writeFileSync(join(dir, COMPLETE), preset.repo);
  return dir;
}
