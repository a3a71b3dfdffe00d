// The model presets offered by "KVzip: Choose Model". The engine resolves an id (or a local checkpoint folder).
export interface ModelPresetItem {
  id: string;
  description: string;
}

export const MODEL_PRESETS: readonly ModelPresetItem[] = [
  { id: 'Qwen2.5-Coder-1.5B-Instruct', description: 'small and quick, code' },
  { id: 'Qwen2.5-Coder-7B-Instruct', description: 'better answers, code, needs a GPU' },
  { id: 'Qwen3-4B', description: 'general, mid-size' },
  { id: 'Qwen3-8B', description: 'general, needs a GPU' },
  { id: 'Llama-3.1-8B-Instruct', description: 'general, needs a GPU' },
];
