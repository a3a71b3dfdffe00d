// Failures in the editor's words. The engine's messages are shared with the CLI and name its flags; in VS Code the
// same choice is a setting, so the flags become setting names. Each failure carries the buttons that lead to the
// fix: Choose Model for a model that cannot be used, Open Settings at the setting it names, Show Output for the rest.
import { EngineError } from '../engine/client.ts';
import type { FailureAction } from '../webview/messages.ts';

export interface Failure {
  message: string;
  actions: FailureAction[];
  /** The setting Open Settings opens at: the first one the message names. */
  setting?: string;
}

/** The CLI's flags and the settings that hold the same choice, most specific first. */
const FLAG_SETTINGS: [RegExp, string][] = [
  [/--max-context-tokens\b/g, 'kvzipCode.maxContextTokens'],
  [/--max-tokens\b/g, 'kvzipCode.maxAnswerTokens'],
  [/--conversation-budget\b/g, 'kvzipCode.conversationBudget'],
  [/--model\b/g, 'kvzipCode.model'],
  [/--device (auto|cuda|webgpu|cpu)\b/g, 'kvzipCode.device set to "$1"'],
  [/--device\b/g, 'kvzipCode.device'],
  [/--int4\b/g, 'kvzipCode.int4'],
  [/--ratio\b/g, 'kvzipCode.ratio'],
  [/--level\b/g, 'kvzipCode.level'],
  [/--scoring\b/g, 'kvzipCode.scoring'],
  [/--pin\b/g, 'kvzipCode.pinned'],
  // The extension always passes its own global storage: there is no setting to point elsewhere.
  [/\(--cache-dir, or the KVZIP_CACHE_DIR environment variable\)/g, "(the extension's global storage)"],
];

/** An engine message with the CLI's flags replaced by the settings that hold the same choice. */
export function inEditorTerms(message: string): string {
  let out = message;
  for (const [flag, setting] of FLAG_SETTINGS) out = out.replace(flag, setting);
  // Some messages already add the setting for the extension's sake: once translated, that says it twice.
  return out.replace(/\s*\(the extension: kvzipCode\.\w+\)/g, '');
}

const MODEL_CODES = /^(model|model-location|download-.+)$/;

/** What went wrong, in the editor's words, and which buttons lead to the fix. */
export function failureOf(err: unknown): Failure {
  const raw = err instanceof Error ? err.message : String(err);
  const message = inEditorTerms(raw);
  const code = err instanceof EngineError ? err.code : undefined;
  // A model that does not fit in memory is fixed by a shorter context or a smaller model.
  const setting = /kvzipCode\.\w+/.exec(message)?.[0] ?? (code === 'memory' ? 'kvzipCode.maxContextTokens' : undefined);
  const model = (code !== undefined && (MODEL_CODES.test(code) || code === 'memory')) || setting === 'kvzipCode.model';
  const actions: FailureAction[] = [];
  if (model) actions.push('chooseModel');
  if (setting && setting !== 'kvzipCode.model') actions.push('openSettings');
  actions.push('showOutput');
  return { message, actions, ...(setting && setting !== 'kvzipCode.model' ? { setting } : {}) };
}
