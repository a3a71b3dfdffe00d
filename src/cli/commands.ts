// The commands and their flags, described once: the parser takes each command's flags and defaults from here,
// and its --help prints them, one line each.
import { DEVICES, LEVELS, SCORINGS } from '../core/choices.ts';

export interface Flag {
  type: 'string' | 'boolean';
  /** The value's name in the help: --ratio R. */
  value?: string;
  /** The value a string flag takes when it is not given. */
  default?: string;
  /** The default as the help says it, where it is not a value the flag takes (--max-context-tokens). */
  defaultText?: string;
  multiple?: boolean;
  short?: string;
  help: string;
}

export const FLAGS = {
  model: {
    type: 'string',
    value: 'MODEL',
    help: 'the model: a preset id, a .gguf file, a checkpoint folder, ollama:NAME[:TAG], lmstudio:PUBLISHER/MODEL, or a Hub name in the Hugging Face cache (required)',
  },
  prompt: { type: 'string', value: 'TEXT', help: 'the prompt, as text (or --prompt-ids)' },
  'prompt-ids': { type: 'string', value: '1,2,3', help: 'the prompt as comma-separated token ids (or --prompt)' },
  'max-tokens': { type: 'string', value: 'N', default: '256', help: 'the most tokens in the answer' },
  temperature: { type: 'string', value: 'T', default: '0', help: 'sampling temperature; 0 always takes the likeliest token' },
  'top-p': {
    type: 'string',
    value: 'P',
    default: '1',
    help: 'sample only from the likeliest tokens that make up this share of the probability',
  },
  stop: { type: 'string', value: 'STR', multiple: true, help: 'stop where the text contains STR (repeatable)' },
  device: {
    type: 'string',
    value: DEVICES.join('|'),
    default: 'auto',
    help: 'where the model runs: auto takes CUDA, then WebGPU on a hardware adapter, then the CPU, and says why',
  },
  ratio: { type: 'string', value: 'R', default: '0.3', help: "the share of the context's KV pairs the cache keeps, in (0, 1]" },
  level: {
    type: 'string',
    value: LEVELS.join('|'),
    default: 'pair',
    help: 'what KVzip keeps: the best pairs overall, the same share in every head, or whole heads',
  },
  scoring: {
    type: 'string',
    value: SCORINGS.join('|'),
    default: 'exact',
    help: 'exact scores each chunk against the whole context; local against its own chunk, about one prefill on long contexts',
  },
  'cache-dir': {
    type: 'string',
    value: 'DIR',
    help: 'where caches, prepared weights, downloads and conversations are kept; KVZIP_CACHE_DIR sets the default',
  },
  'max-context-tokens': {
    type: 'string',
    value: 'N',
    defaultText: "the model's window",
    help: 'the most tokens of workspace context',
  },
  pin: { type: 'string', value: 'GLOB', multiple: true, help: 'rank files matching GLOB first, such as "src/core/**" (repeatable)' },
  session: { type: 'string', value: 'NAME', help: 'keep a conversation under NAME: each answer reads its earlier turns after the context' },
  new: { type: 'boolean', help: "start the --session's conversation over" },
  'conversation-budget': {
    type: 'string',
    value: 'N',
    defaultText: 'the window left after the context',
    help: 'positions after the context for the conversation; the oldest turns drop when it is full',
  },
  force: { type: 'boolean', help: 'build again even when the cache is fresh' },
  int4: { type: 'boolean', help: 'store the Linear weights as int4 blocks: about a quarter of the memory, slightly less exact' },
  json: { type: 'boolean', help: 'print the result as JSON' },
  debug: { type: 'boolean', help: "show progress as the engine reports it (phase ids), and an internal error's stack" },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Record<string, Flag>;

export type FlagName = keyof typeof FLAGS;

export interface Command {
  name: string;
  /** The positional arguments as the help writes them; `[X]` is optional. */
  args: string[];
  /** One line for the list of commands. */
  summary: string;
  /** What the command does, for its own help. */
  about: string;
  /** Its flags, in the help's order, each with what differs for this command. */
  flags: (FlagName | [FlagName, Partial<Flag>])[];
}

const COMMON_END: FlagName[] = ['json', 'debug', 'help'];

export const COMMANDS: Command[] = [
  {
    name: 'context',
    args: ['WORKSPACE'],
    summary: 'preview what a build would put in the context, and its memory and time',
    about:
      "Shows what a build would put in the context (whole files or outlines, by rank), what it leaves out and why, and the build's estimated memory and time. It reads only config.json and the tokenizer, never the weights.",
    flags: ['model', 'max-context-tokens', 'pin', 'scoring', 'int4', 'device', 'cache-dir', ...COMMON_END],
  },
  {
    name: 'build',
    args: ['WORKSPACE'],
    summary: "build (or refresh) the workspace's compressed cache",
    about:
      "Builds WORKSPACE's compressed KV cache for ask: the context is prefilled once, KVzip scores every KV pair, and the cache keeps the best share. After edits it refreshes the cache from the first changed file. Progress goes to stderr.",
    flags: [
      'model',
      'ratio',
      'level',
      'scoring',
      'max-context-tokens',
      'pin',
      'force',
      'int4',
      'device',
      'cache-dir',
      ['json', { help: "print the build's figures and what went into the context as JSON" }],
      'debug',
      'help',
    ],
  },
  {
    name: 'ask',
    args: ['WORKSPACE', '"QUESTION"'],
    summary: 'answer a question from the cache, building it first if there is none',
    about:
      "Answers QUESTION from WORKSPACE's compressed cache, with no prefill of the context; with no cache yet it builds one first. The answer streams to stdout; progress, notes and the answer's sources go to stderr.",
    flags: [
      'model',
      'session',
      'new',
      'conversation-budget',
      'max-tokens',
      'ratio',
      'level',
      'scoring',
      'max-context-tokens',
      'pin',
      'int4',
      'device',
      'cache-dir',
      ['json', { help: 'print the answer and its figures as JSON instead of streaming it' }],
      'debug',
      'help',
    ],
  },
  {
    name: 'generate',
    args: [],
    summary: 'generate text from a prompt, with no workspace (a check of the model)',
    about: 'Generates text from a prompt with the model alone: no workspace, no cache. The text streams to stdout.',
    flags: [
      'model',
      'prompt',
      'prompt-ids',
      ['max-tokens', { default: '128', help: 'the most tokens to generate' }],
      'temperature',
      'top-p',
      'stop',
      'int4',
      'device',
      'cache-dir',
      ...COMMON_END,
    ],
  },
  {
    name: 'info',
    args: [],
    summary: 'list the cache entries: workspace, model, tokens, size, last use',
    about: 'Lists the cache entries in the cache folder: workspace, model, tokens, settings, size and last use.',
    flags: ['cache-dir', ...COMMON_END],
  },
  {
    name: 'clear',
    args: ['[WORKSPACE]'],
    summary: "remove a workspace's cache entries, or all of them",
    about:
      "Removes WORKSPACE's cache entries and their conversations, or with no WORKSPACE every entry in the cache folder. The prepared model weights stay.",
    flags: ['cache-dir', ['json', { help: 'print what was removed as JSON' }], 'debug', 'help'],
  },
  {
    name: 'setup-cuda',
    args: [],
    summary: "fetch onnxruntime's CUDA provider libraries",
    about:
      "Fetches onnxruntime's CUDA provider libraries where an NVIDIA driver is present. CUDA 12 and cuDNN 9 must be installed on the system.",
    flags: [['force', { help: 'install without an NVIDIA driver, for a GPU machine later' }], ...COMMON_END],
  },
];

export function findCommand(name: string | undefined): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The command's flags with what it changes of them. */
export function flagsOf(c: Command): [FlagName, Flag][] {
  return c.flags.map((f) => (typeof f === 'string' ? [f, FLAGS[f]] : [f[0], { ...FLAGS[f[0]], ...f[1] }]));
}
