// The command line, parsed and checked before anything starts: a wrong flag is answered at once, never after
// the engine has loaded a model.
import { parseArgs } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { locateModel, modelArgument } from '../model/stores.ts';
import { UserError } from '../core/errors.ts';
import type { RequestBody } from '../engine/client.ts';
import { DEVICES, isDevice, isLevel, isScoring, LEVELS, SCORINGS, spelled } from '../core/choices.ts';
import { COMMANDS, FLAGS, findCommand, flagsOf, type Command, type FlagName } from './commands.ts';

/**
 * A mistake on the command line. `usage` when the command's help would help (not for a workspace that is
 * missing); `command` is the command it was for, whose help the message points to.
 */
export class UsageError extends Error {
  command?: string;
  constructor(
    message: string,
    readonly usage = true,
  ) {
    super(message);
  }
}

/** Every flag of every command: parseArgs reads them all, and a flag of another command is then named as such. */
const OPTIONS = Object.fromEntries(
  Object.entries(FLAGS).map(([name, f]) => [
    name,
    { type: f.type, multiple: 'multiple' in f, ...('short' in f ? { short: f.short } : {}) },
  ]),
) as {
  [K in FlagName]: {
    type: (typeof FLAGS)[K]['type'];
    multiple: (typeof FLAGS)[K] extends { multiple: true } ? true : false;
    short?: string;
  };
};

export interface Parsed {
  command?: string;
  body?: RequestBody;
  json: boolean;
  debug: boolean;
  help: boolean;
  /** Flags given that only other commands take (one list of flags for build and ask is common): not used. */
  ignored?: string[];
}

/** A plain decimal (or exponent) number: no hex, no empty string, no whitespace, unlike Number(). */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

function decimal(v: string, flag: string, what: string): number {
  if (!DECIMAL.test(v)) throw new UsageError(`--${flag} must be ${what}, got "${v}"`);
  return Number(v);
}

function fraction(v: string | undefined, flag: string, min: { value: number; open: boolean }): number | undefined {
  if (v === undefined) return undefined;
  const range = `${min.open ? '(' : '['}${min.value}, 1]`;
  const n = decimal(v, flag, `a number in ${range}`);
  if (!(min.open ? n > min.value : n >= min.value) || n > 1) throw new UsageError(`--${flag} must be in ${range}, got ${v}`);
  return n;
}

function count(v: string | undefined, flag: string, why: string): number | undefined {
  if (v === undefined) return undefined;
  const n = decimal(v, flag, 'a whole number');
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a whole number of at least 1 (${why}), got ${v}`);
  return n;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined || v === '') throw new UsageError(`${what} is required`);
  return v;
}

function workspaceFolder(arg: string | undefined): string {
  const ws = resolve(need(arg, 'WORKSPACE'));
  if (!existsSync(ws)) throw new UsageError(`the workspace ${ws} does not exist`, false);
  if (!statSync(ws).isDirectory()) throw new UsageError(`the workspace ${ws} is not a folder: give the repository's folder`, false);
  return ws;
}

/**
 * parseArgs reads `--ratio -1` as a missing value followed by a flag; a value that is a negative number is
 * the user's value, so it is joined to its option and then refused by the range check with the real reason.
 */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const o = name && (OPTIONS as Record<string, { type: string }>)[name];
    if (o && o.type === 'string' && /^-(?:\d|\.\d)/.test(argv[i + 1] ?? '')) out.push(`${a}=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

export function parseCommandLine(argv: string[], defaultCacheDir: () => string): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), options: OPTIONS, allowPositionals: true });
  } catch (e) {
    // Node's own wording ("argument missing"), without its advice on positionals; a flag no command has is
    // named as the flag of another command would be.
    const command = argv.find((a) => findCommand(a) !== undefined);
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    const unknown = /^Unknown option '(-[^']*)'/.exec(message)?.[1];
    const error = new UsageError(unknown ? `${unknown} is not a flag of ${command ?? 'kvzip-code'}` : message);
    error.command = command;
    throw error;
  }
  const { values: given, positionals } = parsed;
  const [command, ...rest] = positionals;
  const base = { command, json: given.json === true, debug: given.debug === true, help: given.help === true };
  if (!command) return base;
  const spec = findCommand(command);
  if (!spec) throw new UsageError(`unknown command "${command}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')}`);
  if (base.help) return base;
  const own = new Set<string>(flagsOf(spec).map(([name]) => name));
  const ignored = Object.keys(given).filter((name) => !own.has(name));
  const used = Object.fromEntries(Object.entries(given).filter(([name]) => own.has(name))) as Given;
  try {
    return { ...base, body: requestOf(spec, used, rest, defaultCacheDir), ...(ignored.length ? { ignored } : {}) };
  } catch (e) {
    if (e instanceof UsageError) e.command ??= command;
    throw e;
  }
}

type Given = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** The string flags' defaults: the command's own where it has one (generate's --max-tokens), else the flag's. */
function defaultsOf(spec: Command): Record<string, string> {
  const all = Object.entries(FLAGS).flatMap(([name, f]) => ('default' in f ? [[name, f.default]] : []));
  const own = flagsOf(spec).flatMap(([name, f]) => (f.default !== undefined ? [[name, f.default]] : []));
  return Object.fromEntries([...all, ...own]) as Record<string, string>;
}

function requestOf(spec: Command, given: Given, rest: string[], defaultCacheDir: () => string): RequestBody {
  const optional = spec.args.filter((a) => a.startsWith('[')).length;
  if (rest.length > spec.args.length) {
    const quote = spec.name === 'ask' ? '; quote a question of several words' : '';
    throw new UsageError(
      `unexpected argument "${rest[spec.args.length]}": ${spec.name} takes ${spec.args.length ? spec.args.join(' ') : 'no arguments'}${quote}`,
    );
  }
  // Positionals first: `ask WS` without a question is told about the question, not about --model.
  if (rest.length < spec.args.length - optional) need(undefined, spec.args[rest.length]!.replace(/"/g, ''));
  const o = { ...defaultsOf(spec), ...given } as Given;

  // Each has a default in FLAGS, so none is undefined here.
  const { device = '', level = '', scoring = '' } = o;
  if (!isDevice(device)) throw new UsageError(`--device must be ${spelled(DEVICES)}, got "${device}"`);
  if (!isLevel(level)) throw new UsageError(`--level must be ${spelled(LEVELS)}, got "${level}"`);
  if (!isScoring(scoring)) throw new UsageError(`--scoring must be ${spelled(SCORINGS)}, got "${scoring}"`);
  // An empty value would resolve to the current folder, often the repository itself.
  if (o['cache-dir'] === '') throw new UsageError('--cache-dir must name a folder, got ""');
  const cacheDir = resolve(o['cache-dir'] ?? defaultCacheDir());
  const ratio = fraction(o.ratio, 'ratio', { value: 0, open: true })!;
  const maxTokens = count(o['max-tokens'], 'max-tokens', 'the most tokens in the answer');
  const maxContextTokens = count(o['max-context-tokens'], 'max-context-tokens', 'the most tokens of workspace context');
  const temperature = o.temperature === undefined ? undefined : decimal(o.temperature, 'temperature', 'a number ≥ 0');
  if (temperature !== undefined && temperature < 0) throw new UsageError(`--temperature must be ≥ 0, got ${o.temperature}`);
  const topP = fraction(o['top-p'], 'top-p', { value: 0, open: true });
  // A path goes to the engine made absolute, every other form (ollama:, lmstudio:, a Hub name, a preset) as
  // written; each is looked up here first, so a model that is not on this machine is named before anything starts.
  const model = () => {
    const m = need(o.model, '--model MODEL');
    try {
      locateModel(m);
    } catch (e) {
      if (e instanceof UserError) throw new UsageError(e.message, false);
      throw e;
    }
    return modelArgument(m);
  };
  const emptyPin = o.pin?.find((g) => !g.trim());
  if (emptyPin !== undefined) throw new UsageError(`--pin must be a glob such as "src/core/**", got "${emptyPin}"`);
  const settings = () => ({
    workspace: workspaceFolder(rest[0]),
    model: model(),
    cacheDir,
    device,
    ratio,
    level,
    ...(scoring === 'local' ? { scoring } : {}),
    int4: o.int4 === true,
    maxContextTokens,
    pinned: o.pin,
  });

  let body: RequestBody;
  switch (spec.name) {
    case 'generate': {
      const promptIds = o['prompt-ids']?.split(',').map((s) => {
        if (!/^\s*\d+\s*$/.test(s)) throw new UsageError(`--prompt-ids must be comma-separated token ids, got "${s}"`);
        return Number(s);
      });
      body = {
        type: 'generate',
        model: model(),
        cacheDir,
        device,
        int4: o.int4 === true,
        prompt: o.prompt,
        promptIds,
        maxTokens,
        temperature,
        topP,
        stop: o.stop,
      };
      if (!body.prompt && !body.promptIds) throw new UsageError('--prompt TEXT or --prompt-ids 1,2,3 is required');
      break;
    }
    case 'build':
      body = { type: 'build', ...settings(), force: o.force === true };
      break;
    case 'context':
      body = { type: 'context', ...settings() };
      break;
    case 'ask': {
      const question = need(rest[1]?.trim() ? rest[1] : undefined, 'QUESTION');
      // Refused rather than read as no session: the conversation would silently not be kept.
      if (o.session !== undefined && !o.session.trim()) throw new UsageError(`--session must be a name, got "${o.session}"`);
      if (o.new && !o.session) throw new UsageError('--new starts a session over: give --session NAME');
      body = {
        type: 'ask',
        ...settings(),
        question,
        maxTokens,
        session: o.session,
        newConversation: o.new === true,
        conversationBudget: count(o['conversation-budget'], 'conversation-budget', 'tail positions for the conversation'),
      };
      break;
    }
    case 'info':
      body = { type: 'info', cacheDir };
      break;
    case 'clear':
      body = { type: 'clear', cacheDir, workspace: rest[0] && resolve(rest[0]) };
      break;
    case 'setup-cuda':
      body = { type: 'cuda-setup', force: o.force === true };
      break;
    default:
      throw new Error(`no request for the command ${spec.name}`);
  }
  return body;
}
