// Cancellation: long work takes an AbortSignal and checks it between steps (a step of onnxruntime cannot be
// interrupted), then unwinds with CancelledError so callers can tell a stop from a failure.

export class CancelledError extends Error {
  constructor() {
    super('Cancelled');
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
