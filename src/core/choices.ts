// The values a user picks from, each spelled once: the CLI, the extension's settings and the engine's request
// check all read these arrays.

/** Where the model runs: `auto` takes CUDA when it is usable, then WebGPU on a hardware adapter, then the CPU. */
export const DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export type Device = (typeof DEVICES)[number];
/** A device a session actually runs on. */
export type Backend = Exclude<Device, 'auto'>;

/** KVzip's eviction granularity: per KV pair (non-uniform budgets), per pair with one budget per head, whole heads. */
export const LEVELS = ['pair', 'pair-uniform', 'head'] as const;
export type Level = (typeof LEVELS)[number];

/**
 * How KVzip's repeat passes attend: `exact`, over the whole cache as the reference does (about 2× a prefill);
 * `local`, over the system prefix and the chunk being reconstructed only, which makes scoring linear in the
 * context at the price of an approximation (bench/quality.ts measures it against exact scores).
 */
export const SCORINGS = ['exact', 'local'] as const;
export type Scoring = (typeof SCORINGS)[number];

export function isDevice(s: string): s is Device {
  return (DEVICES as readonly string[]).includes(s);
}

export function isLevel(s: string): s is Level {
  return (LEVELS as readonly string[]).includes(s);
}

export function isScoring(s: string): s is Scoring {
  return (SCORINGS as readonly string[]).includes(s);
}

/** `a, b or c`, for messages that list the allowed values. */
export function spelled(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}
