// The phases a long request reports, in the order a build goes through them. 'build-first' is an ask's word that
// it must build the cache before it can answer (the build's own phases follow).

export const PHASES = [
  'download',
  'build-first',
  'context',
  'load-model',
  'prefill',
  'score',
  'compress',
  'write',
  'load-cache',
  'answer',
] as const;
export type Phase = (typeof PHASES)[number];

/**
 * What the build's two long phases should take, from model/buildTime.ts, sent with the prefill's first report.
 * The seconds are fitted on the CPU in fp32; elsewhere (`calibrated` false) only their proportion holds, and the
 * time left waits for the observed pace.
 */
export interface TimeEstimate {
  prefillSeconds: number;
  scoreSeconds: number;
  calibrated: boolean;
}

export type ProgressFn = (phase: Phase, done: number, total: number, message?: string, estimate?: TimeEstimate) => void;
