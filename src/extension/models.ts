// The model choices offered by "KVzip: Choose Model": the Hub presets (downloaded by the engine on first use) and
// a local checkpoint folder.
import { HUB_PRESETS } from '../model/presets.ts';

export interface ModelPresetItem {
  id: string;
  description: string;
  /** Needs an accepted license and a Hugging Face token. */
  gated: boolean;
}

/** Where the Hugging Face token lives in VS Code's secret storage. */
export const HF_TOKEN_SECRET = 'kvzipCode.huggingFaceToken';

export const MODEL_PRESETS: readonly ModelPresetItem[] = HUB_PRESETS.map((p) => ({
  id: p.id,
  description: `${p.label}, ${(p.params / 1e9).toFixed(1)}B parameters, ${p.contextWindow / 1024}K context${p.gated ? ', gated' : ''}`,
  gated: p.gated,
}));
