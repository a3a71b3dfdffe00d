// Models a user can pick without knowing Hub ids. Shapes come from each repo's config.json; they feed the memory
// estimate before anything is downloaded. `params` is the published parameter count (a check on the shapes).
import type { ModelSpec } from './config.ts';

/** The part of a model's spec that decides its memory. */
export type ModelShape = Pick<
  ModelSpec,
  | 'hiddenSize'
  | 'intermediateSize'
  | 'numLayers'
  | 'numHeads'
  | 'numKvHeads'
  | 'headDim'
  | 'vocabSize'
  | 'tieWordEmbeddings'
  | 'qkvBias'
  | 'qkNorm'
>;

export interface HubPreset {
  id: string;
  label: string;
  repo: string;
  revision: string;
  /** Longest context the model was trained for (config max_position_embeddings, without rope extension). */
  contextWindow: number;
  params: number;
  /** Needs an accepted license and a token. */
  gated: boolean;
  shape: ModelShape;
}

const qwen25 = { qkvBias: true, qkNorm: false, headDim: 128 } as const;
const qwen3 = { qkvBias: false, qkNorm: true, headDim: 128, vocabSize: 151936 } as const;

export const HUB_PRESETS: readonly HubPreset[] = [
  {
    id: 'qwen2.5-coder-1.5b',
    label: 'Qwen2.5-Coder 1.5B Instruct',
    repo: 'Qwen/Qwen2.5-Coder-1.5B-Instruct',
    revision: 'main',
    contextWindow: 32768,
    params: 1.54e9,
    gated: false,
    shape: {
      ...qwen25,
      hiddenSize: 1536,
      intermediateSize: 8960,
      numLayers: 28,
      numHeads: 12,
      numKvHeads: 2,
      vocabSize: 151936,
      tieWordEmbeddings: true,
    },
  },
  {
    id: 'qwen2.5-coder-7b',
    label: 'Qwen2.5-Coder 7B Instruct',
    repo: 'Qwen/Qwen2.5-Coder-7B-Instruct',
    revision: 'main',
    contextWindow: 32768,
    params: 7.62e9,
    gated: false,
    shape: {
      ...qwen25,
      hiddenSize: 3584,
      intermediateSize: 18944,
      numLayers: 28,
      numHeads: 28,
      numKvHeads: 4,
      vocabSize: 152064,
      tieWordEmbeddings: false,
    },
  },
  {
    id: 'qwen3-4b',
    label: 'Qwen3 4B',
    repo: 'Qwen/Qwen3-4B',
    revision: 'main',
    contextWindow: 32768,
    params: 4.02e9,
    gated: false,
    shape: { ...qwen3, hiddenSize: 2560, intermediateSize: 9728, numLayers: 36, numHeads: 32, numKvHeads: 8, tieWordEmbeddings: true },
  },
  {
    id: 'qwen3-8b',
    label: 'Qwen3 8B',
    repo: 'Qwen/Qwen3-8B',
    revision: 'main',
    contextWindow: 32768,
    params: 8.19e9,
    gated: false,
    shape: { ...qwen3, hiddenSize: 4096, intermediateSize: 12288, numLayers: 36, numHeads: 32, numKvHeads: 8, tieWordEmbeddings: false },
  },
  {
    id: 'llama-3.1-8b',
    label: 'Llama 3.1 8B Instruct',
    repo: 'meta-llama/Llama-3.1-8B-Instruct',
    revision: 'main',
    contextWindow: 131072,
    params: 8.03e9,
    gated: true,
    shape: {
      qkvBias: false,
      qkNorm: false,
      headDim: 128,
      hiddenSize: 4096,
      intermediateSize: 14336,
      numLayers: 32,
      numHeads: 32,
      numKvHeads: 8,
      vocabSize: 128256,
      tieWordEmbeddings: false,
    },
  },
];

/** By id, by Hub repo, or by the repo's model name alone (as people write it: Qwen2.5-Coder-1.5B-Instruct). */
export function findPreset(id: string): HubPreset | undefined {
  const lower = id.toLowerCase();
  return HUB_PRESETS.find((p) => p.id === lower || p.repo.toLowerCase() === lower || p.repo.split('/')[1].toLowerCase() === lower);
}

/** Parameters implied by a shape, split the way quantisation treats them. */
export function parameterCounts(s: ModelShape): { linear: number; embedding: number; lmHead: number; other: number; total: number } {
  const q = s.numHeads * s.headDim;
  const kv = s.numKvHeads * s.headDim;
  const perLayerLinear = s.hiddenSize * (q + 2 * kv) + q * s.hiddenSize + 3 * s.hiddenSize * s.intermediateSize;
  const perLayerOther = 2 * s.hiddenSize + (s.qkvBias ? q + 2 * kv : 0) + (s.qkNorm ? 2 * s.headDim : 0);
  const linear = s.numLayers * perLayerLinear;
  const embedding = s.vocabSize * s.hiddenSize;
  const lmHead = s.tieWordEmbeddings ? 0 : embedding;
  const other = s.numLayers * perLayerOther + s.hiddenSize;
  return { linear, embedding, lmHead, other, total: linear + embedding + lmHead + other };
}
