// The phases a long request reports, in the order a build goes through them.

export const PHASES = ['download', 'context', 'load-model', 'prefill', 'score', 'compress', 'write', 'load-cache', 'answer'] as const;
export type Phase = (typeof PHASES)[number];

export type ProgressFn = (phase: Phase, done: number, total: number, message?: string) => void;
