// A checkpoint's problems: each names the file at fault and what to do about it.
import { readFileSync } from 'node:fs';
import { UserError } from '../core/errors.ts';

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
