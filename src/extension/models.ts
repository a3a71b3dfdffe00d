// The model choices offered by "KVzip: Choose Model": the Hub presets (downloaded by the engine on first use,
// unless the Hugging Face cache has them), the models found on this machine (src/model/localModels.ts), and a
// file or folder to browse for. No VS Code here: the command turns these into quick-pick items.
import { HUB_PRESETS } from '../model/presets.ts';
import { factsLine, inspectModel, type LocalModel } from '../model/localModels.ts';
import { modelKey, realPath, storeRoots, type StoreKind, type StoreRoots } from '../model/stores.ts';

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

export const STORE_NAMES: Record<StoreKind, string> = {
  ollama: 'Ollama',
  lmstudio: 'LM Studio',
  huggingface: 'Hugging Face cache',
  path: 'Current setting',
};

export interface ModelChoice {
  group: 'preset' | 'local' | 'browse';
  label: string;
  description: string;
  detail?: string;
  /** What the setting becomes when this is picked; a browse choice asks for a path instead. */
  setting?: string;
  browse?: 'file' | 'folder';
  /** The setting in force resolves to this model. */
  current: boolean;
  /** Why it cannot be used; picking it says so and changes nothing. */
  unusable?: string;
  gated?: boolean;
}

/**
 * The choices, current one marked: two settings are the same model when they resolve to the same real path (a
 * Hub name and the preset id of one cached repo, a link and its target), or to the same preset to download.
 */
export function modelChoices(current: string, local: LocalModel[], roots: StoreRoots = storeRoots()): ModelChoice[] {
  const currentKey = modelKey(current, roots);
  const isCurrent = (key: string | undefined, setting: string) => (currentKey === undefined ? setting === current : key === currentKey);
  const presets = HUB_PRESETS.map((p, i): ModelChoice => {
    const key = modelKey(p.id, roots);
    const cached = key !== undefined && !key.startsWith('preset:');
    const current = isCurrent(key, p.id);
    return {
      group: 'preset',
      label: p.id,
      description: `${MODEL_PRESETS[i]!.description}${cached ? ', in the Hugging Face cache' : ''}${current ? ' (current)' : ''}`,
      setting: p.id,
      current,
      gated: p.gated,
    };
  });
  const found = local.map((m): ModelChoice => {
    const current = m.path !== '' && isCurrent(realPath(m.path), m.setting);
    const facts = factsLine(m);
    return {
      group: 'local',
      label: m.supported ? m.name : `$(warning) ${m.name}`,
      description: `${facts}${m.supported ? '' : `${facts ? ' · ' : ''}not supported`}${current ? ' (current)' : ''}`,
      detail: `${STORE_NAMES[m.store]}: ${m.path || m.setting}${m.supported ? '' : ` (${m.reason})`}`,
      setting: m.setting,
      current,
      ...(m.supported ? {} : { unusable: m.reason ?? 'it cannot be read' }),
    };
  });
  return [
    ...presets,
    ...found,
    {
      group: 'browse',
      label: '$(file) GGUF file…',
      description: 'A .gguf model file (a split one by any of its parts)',
      browse: 'file',
      current: false,
    },
    {
      group: 'browse',
      label: '$(folder) Checkpoint folder…',
      description: 'A Hugging Face checkpoint folder with config.json and safetensors',
      browse: 'folder',
      current: false,
    },
  ];
}

/** Why a picked file or folder cannot be used (not found, unreadable, an architecture we do not run), or undefined. */
export async function checkPickedModel(path: string, roots: StoreRoots = storeRoots()): Promise<string | undefined> {
  try {
    const m = await inspectModel(path, roots);
    if (!m) return `${path} holds no config.json and no .gguf file`;
    return m.supported ? undefined : `${path} cannot be used: ${m.reason}`;
  } catch (e) {
    return (e as Error).message;
  }
}
