// Ctrl-C, SIGTERM and SIGHUP stop the CLI's request. The engine is asked to cancel, which it does between model
// runs, removing its temporary files as it unwinds; a run or a weight conversion can last minutes on a real model,
// so an engine still busy after a second is killed, and its client removes what it left. A second signal kills at
// once. The CLI then exits with 128 + the signal's number, as a shell reports a process the signal ended.
import { constants } from 'node:os';
import type { EngineClient, RunningRequest } from '../engine/client.ts';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long a cancel may take before the engine is killed: the bar is that SIGTERM stops it within 2 s. */
const CANCEL_GRACE_MS = 1_000;

export interface Interrupt {
  /** The signal that stopped the request, if one did. */
  readonly signal?: NodeJS.Signals;
  /** Waits for a kill in progress, and stops listening. */
  finish(): Promise<void>;
}

export function interruptOnSignals(request: RunningRequest<unknown>, client: EngineClient): Interrupt {
  let signal: NodeJS.Signals | undefined;
  let timer: NodeJS.Timeout | undefined;
  let killed: Promise<void> | undefined;
  const kill = () => (killed ??= client.kill());
  const stop = (sig: NodeJS.Signals) => {
    if (signal) return void kill();
    signal = sig;
    request.cancel();
    timer = setTimeout(kill, CANCEL_GRACE_MS);
  };
  for (const s of SIGNALS) process.on(s, stop);
  return {
    get signal() {
      return signal;
    },
    async finish() {
      clearTimeout(timer);
      for (const s of SIGNALS) process.off(s, stop);
      await killed;
    },
  };
}

/** The exit status of a process the signal ended. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}
