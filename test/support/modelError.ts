// The shape every user-facing model error must have: one ModelError, one line, naming the file, the problem
// and the fix.
import assert from 'node:assert/strict';
import { ModelError } from '../../src/model/errors.ts';

export function expectModelError(fn: () => unknown, file: string, problem: RegExp, fix: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelError, `expected a ModelError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.ok(e.message.startsWith(`${file}: `), `message names the file: ${e.message}`);
    assert.match(e.message, problem);
    assert.match(e.message, fix);
    assert.ok(!e.message.includes('\n'), 'one line, no stack');
    return true;
  });
}
