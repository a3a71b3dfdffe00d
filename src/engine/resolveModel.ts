// A model setting is a checkpoint folder or a preset id; a preset is downloaded from the Hub once, into the
// cache folder, with progress, and resumed if an earlier download stopped.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { downloadModel, HubError } from '../model/hub.ts';
import { findPreset } from '../model/presets.ts';
import { UserError } from '../core/errors.ts';
import type { ProgressFn } from '../core/progress.ts';

const COMPLETE = '.kvzip-complete';

export async function resolveModel(
  model: string,
  cacheDir: string,
  o: { token?: string; signal?: AbortSignal; progress?: ProgressFn } = {},
): Promise<string> {
  const preset = findPreset(model);
  if (!preset || existsSync(join(model, 'config.json'))) return resolve(model);
  const dir = join(cacheDir, 'hub', preset.repo.replace('/', '--'));
  if (existsSync(join(dir, COMPLETE))) return dir;
  try {
    await downloadModel(preset.repo, dir, {
      revision: preset.revision,
      token: o.token,
      signal: o.signal,
      onProgress: (p) =>
        o.progress?.('download', p.overallBytes, p.overallTotal ?? 0, `${preset.label}: file ${p.fileIndex + 1} of ${p.fileCount}`),
    });
  } catch (e) {
    if (e instanceof HubError) throw new UserError(e.message, `download-${e.code}`);
    throw e;
  }
  writeFileSync(join(dir, COMPLETE), preset.repo);
  return dir;
}
