// Where the model setting's model comes from, in a few words for the sidebar's welcome: already on this machine,
// or a download on the first build (and how large). Reads the stores' folders only, never a weight.
import { formatBytes } from '../model/memory.ts';
import { locateModel } from '../model/stores.ts';
import { presetDownloadBytes } from '../engine/estimate.ts';
import { presetDownloaded, presetFolder } from '../engine/resolveModel.ts';
import { STORE_NAMES } from './models.ts';

export function modelSource(model: string, cacheDir: string): string {
  try {
    const found = locateModel(model);
    if (found.store !== 'download') return found.store === 'path' ? 'on this machine' : `on this machine (${STORE_NAMES[found.store]})`;
    if (presetDownloaded(presetFolder(cacheDir, found.preset))) return 'downloaded';
    return `not downloaded yet: ${formatBytes(presetDownloadBytes(found.preset))} from the Hugging Face Hub on the first build`;
  } catch (err) {
    return `not found: ${(err as Error).message}`;
  }
}
