// Why an answer was cut for room, in the one sentence the CLI and the sidebar both print (the sidebar names the
// setting where the CLI names the flag).
import type { AskResult } from './protocol.ts';

export function stoppedText(stopped: NonNullable<AskResult['stopped']>): string {
  return stopped === 'window'
    ? "Stopped: the model's window is full."
    : 'Stopped: the conversation budget (--conversation-budget) is full.';
}
