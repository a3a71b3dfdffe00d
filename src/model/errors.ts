// Errors a user can act on: each names the file (or thing) at fault and what to do about it.
// The CLI and the extension print `message` alone, never a stack trace.
import { readFileSync } from 'node:fs';

export class UserError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export class ModelError extends UserError {
  constructor(
    readonly file: string,
    problem: string,
    fix: string,
  ) {
    super(`${file}: ${problem}. ${fix}`, 'model');
    this.name = 'ModelError';
  }
}

/** Reads a checkpoint's JSON file; a missing or unparsable file is a ModelError with `missingFix` as the fix. */
export function readModelJson(file: string, missingFix: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ModelError(file, 'not found', missingFix);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelError(file, `is not valid JSON (${(e as Error).message})`, 'Download the file again');
  }
}

export class CancelledError extends Error {
  constructor() {
    super('Cancelled');
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
