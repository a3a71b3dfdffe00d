// The typed message protocol between a client (CLI, extension) and the engine process.
// Only JSON crosses it: binary KV stays inside the engine and on disk.

import type { Device, Level, Scoring } from '../core/choices.ts';
import type { Phase, TimeEstimate } from '../core/progress.ts';
import type { Timings } from '../core/timings.ts';
import type { ContextReport } from '../context/index.ts';
import type { MemoryEstimate } from '../model/memory.ts';
import type { ModelShape } from '../model/presets.ts';

/** Settings that decide which cache entry a workspace maps to. */
export interface CacheSettings {
  workspace: string;
  model: string;
  cacheDir: string;
  device: Device;
  ratio: number;
  level: Level;
  /** How KVzip's repeat passes attend (core/choices.ts); default exact. */
  scoring?: Scoring;
  /** Linear weights as int4 blocks (MatMulNBits) instead of fp32/fp16. */
  int4?: boolean;
  /** Hugging Face token for gated presets; kept in the editor's secret storage, never logged. */
  hfToken?: string;
  maxContextTokens?: number;
  includeSecrets?: boolean;
  include?: string[];
  exclude?: string[];
  /** Globs of files that rank first in the context. */
  pinned?: string[];
  /** A multi-root workspace's folders (each path in the context starts with its name); `workspace` names the whole. */
  folders?: { name: string; path: string }[];
  /** Total size cap of the cache directory; least recently used entries go first. Optional: engine default. */
  cacheSizeCapMB?: number;
}

export type Request =
  | ({ id: number; type: 'build'; force?: boolean } & CacheSettings)
  /** What a build would put in the context and cost, from config.json and the tokenizer alone. */
  | ({ id: number; type: 'context' } & CacheSettings)
  | ({ id: number; type: 'ask' } & AskRequest & CacheSettings)
  /** Opens the model and the workspace's cache ahead of the first question; never builds or downloads. */
  | ({ id: number; type: 'warm' } & CacheSettings)
  | ({ id: number; type: 'generate' } & GenerateRequest)
  | { id: number; type: 'info'; cacheDir: string }
  /** `entry` (a directory `info` lists) clears that entry only. */
  | { id: number; type: 'clear'; cacheDir: string; workspace?: string; entry?: string }
  | { id: number; type: 'cuda-status' }
  /** `force` installs even where no NVIDIA driver is seen (preparing an install for a GPU machine). */
  | { id: number; type: 'cuda-setup'; force?: boolean }
  | { id: number; type: 'cancel'; target: number };

/** A question over the cache; with a conversation, earlier turns are kept after the context as tail KV. */
export interface AskRequest {
  question: string;
  maxTokens?: number;
  /** A named conversation persisted under the cache folder (the CLI's --session). */
  session?: string;
  /** Start the named session over from the bare cache. */
  newConversation?: boolean;
  /** Earlier turns held by the client (the extension), oldest first; ignored when `session` is given. */
  history?: ConversationTurn[];
  /** Tail positions (earlier turns, question and answer) a conversation may take; default all after the context. */
  conversationBudget?: number;
  /**
   * Text quoted after the question as a code block, cut by whole lines to fit. With a `path` it is the editor's
   * current text of that file: it goes only when the cache lacks it (the file is outside the context or changed
   * since the build), or when it is a selection (`lines`), the question's subject.
   */
  quote?: Quote;
}

export type AddedReason = 'outside the context' | 'changed since the build' | 'selected';

/** One finished exchange; the answer's own token ids make the follow-up's tail exact. */
export interface ConversationTurn {
  question: string;
  answer: string;
  answerIds: number[];
}

/**
 * Text quoted after the question as a fenced block (a selection, a file): when the question would not fit in the
 * model's window, its last lines are left out until it does, and the result says how many were kept.
 */
export interface Quote {
  text: string;
  language?: string;
  /** Workspace-relative, `/`-separated, as in the context. */
  path?: string;
  /** A selection's first and last line (1-based); `whole` is then the file's text, to compare with the build. */
  lines?: [number, number];
  whole?: string;
}

/** Plain generation from a prompt, with no context cache. */
export interface GenerateRequest {
  model: string;
  cacheDir: string;
  device: Device;
  int4?: boolean;
  hfToken?: string;
  prompt?: string;
  promptIds?: number[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
}

export interface GenerateResult {
  /** The model the setting resolved to: a checkpoint folder or a GGUF file (a split model's first shard). */
  modelPath: string;
  ids: number[];
  text: string;
  device: string;
  deviceReason?: string;
  /** The WebGPU adapter's name, when the device is WebGPU. */
  adapter?: string;
  prefillMs: number;
  decodeMsPerToken: number;
  bytesPerStep: number;
}

export interface BuildResult {
  entry: string;
  /** The model the setting resolved to: a checkpoint folder or a GGUF file (a split model's first shard). */
  modelPath: string;
  fromCache: boolean;
  contextTokens: number;
  prefillTokens: number;
  kvBytesFull: number;
  kvBytesCompressed: number;
  /** Share of the context's KV pairs kept (kvBytesCompressed also counts the index of which ones). */
  keptShare: number;
  ratio: number;
  level: Level;
  scoring: Scoring;
  device: string;
  deviceReason?: string;
  /** The WebGPU adapter's name, when the device is WebGPU. */
  adapter?: string;
  buildMs: number;
  /** Where the build's time went, phase by phase, in ms (core/timings.ts). */
  timings: Timings;
  /** The engine process's peak resident size so far (its whole life, so a fresh process measures one build). */
  peakRssBytes: number;
  /** What the memory check estimated before prefilling: RAM on the CPU, GPU memory on CUDA (builds that prefilled). */
  memoryEstimateBytes?: number;
  /** Bytes that crossed between host and a GPU during this build's prefill, scoring and KV read-back (0 on the CPU). */
  hostDeviceBytes?: number;
  /** What went into the context and what was left out, and why. */
  report: ContextReport;
}

/** A warm request's outcome: the answering session is open, or why it is not (nothing was built or fetched). */
export interface WarmResult {
  ready: boolean;
  reason?: string;
  timings: Timings;
}

export interface AskResult {
  answer: string;
  /** The model the setting resolved to: a checkpoint folder or a GGUF file (a split model's first shard). */
  modelPath: string;
  fromCache: boolean;
  prefillTokens: number;
  questionTokens: number;
  answerTokens: number;
  /** Until the first token of the answer: the cache's loading counts, a build the ask ran first does not. */
  ttftMs: number;
  decodeMsPerToken: number;
  /** Where the ask's time went, phase by phase, in ms, a build it ran first included (core/timings.ts). */
  timings: Timings;
  device: string;
  deviceReason?: string;
  /** The WebGPU adapter's name, when the device is WebGPU. */
  adapter?: string;
  cancelled: boolean;
  /** Bytes that crossed between host and a GPU for this answer: the compressed KV when its session opened, then every step's feeds and fetches (0 on the CPU). */
  hostDeviceBytes: number;
  /**
   * Set when the answer was cut for room: 'window' when it reached the end of the model's window, 'conversation-budget'
   * when it reached the smaller budget the user set.
   */
  stopped?: 'window' | 'conversation-budget';
  /** Earlier turns read with this question, and the oldest ones dropped to fit the budget. */
  turnsUsed: number;
  turnsDropped: number;
  /** This exchange as the model read it (question with any quote, the answer's ids), for a client that keeps the conversation. */
  turn: ConversationTurn;
  /** Why the answer ended: `eos` with no answer tokens means the model had nothing to say. */
  stopReason: 'eos' | 'stop-string' | 'max-tokens' | 'cancelled' | 'context-full';
  /** Files changed since the cache was built: the answer came from the old cache. */
  stale: boolean;
  /** When stale: the files changed, added or removed since the cache was built. */
  changed?: string[];
  /** Set when the quote was cut to fit: lines of it the model saw, of all. */
  quoteLines?: { kept: number; total: number };
  /** Set when a file's current text went with the question, and why. */
  added?: { path: string; lines?: [number, number]; reason: AddedReason };
  /**
   * The files whose cached pairs the answer attended to most, with their share of the attention it gave the
   * context's files (engine/sources.ts), largest first. Absent when the answer has no tokens, or its graph was
   * built without sources.
   */
  sources?: AnswerSource[];
  /** Set when the session's file could not be read: it was kept aside, and the conversation started over. */
  sessionUnreadable?: SessionUnreadable;
}

/** One file an answer drew on: its path in the context, and its share (0..1) of the answer's attention on files. */
export interface AnswerSource {
  path: string;
  share: number;
}

export interface SessionUnreadable {
  /** What is wrong with the file. */
  reason: string;
  /** Where the file was moved, as it was. */
  keptAs: string;
}

/** One cache entry: a usable one, or one whose manifest cannot be trusted (rebuilt on next use, or cleared). */
export type CacheEntryInfo = UsableEntryInfo | { entry: string; bytes: number; problem: string };

export interface UsableEntryInfo {
  entry: string;
  workspace: string;
  /** The model folder the entry was built with (for a GGUF, the folder imported from it under the cache). */
  model: string;
  /** The model the setting resolved to: the checkpoint folder, or the GGUF file (a split model's first shard). */
  modelPath: string;
  ratio: number;
  level: Level;
  scoring: Scoring;
  contextTokens: number;
  bytes: number;
  kvBytesFull: number;
  kvBytesCompressed: number;
  createdAt: string;
  lastUsedAt: string;
  /** How long its build took, when the generation was built whole (a refresh's time says nothing of a rebuild). */
  buildMs?: number;
}

/** Whether CUDA can run here and, if not, whether the CUDA setup (fetching the provider libraries) would help. */
export interface CudaSetupStatus {
  /** An NVIDIA driver is loaded. */
  driver: boolean;
  usable: boolean;
  /** onnxruntime's CUDA provider libraries are missing: the setup fetches them. */
  providerMissing: boolean;
  reason: string;
  /** CUDA 12 / cuDNN 9 libraries not found on the system: the user installs those. */
  missingSystemLibs?: string[];
  /** What the GPU path needs from the system, in words. */
  needs: string;
}

export interface CudaSetupResult extends CudaSetupStatus {
  /** Paths of the provider libraries installed by this call (empty when they were there already). */
  installed: string[];
}

/** The context window a build's budget comes from. */
export interface ContextLimit {
  /** The model's attention window, or the user's cap when smaller. */
  window: number;
  prefixTokens: number;
  reserveTokens: number;
  /** Tokens the workspace files may take. */
  maxTokens: number;
}

/** What `context` answers: what a build would put in the context and cost, before any prefill. */
export interface ContextPreview {
  workspace: string;
  modelDir: string;
  /** Set for a preset whose weights are not on this machine yet: what the build downloads first. */
  download?: { model: string; repo: string; bytes: number };
  /** The model's shape, which decides the estimates (a client weighs other settings with it). */
  shape: ModelShape;
  /** A GGUF's weights as a build holds them (its own blocks: model/gguf/size.ts), which the shape alone does not give. */
  ggufWeightsBytes?: number;
  limit: ContextLimit;
  report: ContextReport;
  /** Prefix plus context: what the build prefills. */
  sequenceTokens: number;
  estimate: {
    /** The device the estimate is for: the CPU unless CUDA was asked for ('auto' decides only at build time). */
    device: 'cpu' | 'cuda';
    /** 'gguf': a GGUF's own blocks, kept as the file stores them. */
    weights: 'fp32' | 'fp16' | 'int4' | 'gguf';
    memory: MemoryEstimate;
    /** CPU only: whether it fits in the free RAM now, with the verdict's advice. */
    fits?: boolean;
    message: string;
    /** CPU fp32 only: the fitted model of bench/results/engine.json. */
    buildSeconds?: number;
    buildBasis?: string;
  };
  ms: number;
}

export interface ClearResult {
  /** Cache entries removed. */
  removed: number;
  /** Bytes those entries held on disk (the shared prepared weights are not counted). */
  bytes: number;
  /** Session files (`ask --session` conversations) removed with their entries. */
  conversations: number;
}

/** What each request type answers with. */
export interface Results {
  build: BuildResult;
  context: ContextPreview;
  ask: AskResult;
  warm: WarmResult;
  generate: GenerateResult;
  info: CacheEntryInfo[];
  clear: ClearResult;
  'cuda-status': CudaSetupStatus;
  'cuda-setup': CudaSetupResult;
}

export type RequestType = keyof Results;

export type Event =
  /** `estimate` comes with the prefill's first report: what the prefill and the scoring should take. */
  | { id: number; type: 'progress'; phase: Phase; done: number; total: number; message?: string; estimate?: TimeEstimate }
  | { id: number; type: 'token'; text: string }
  | { id: number; type: 'result'; result: Results[RequestType] }
  /** Something the user should know while the request goes on (answering from a stale cache). */
  | { id: number; type: 'notice'; message: string }
  /** `detail` holds an internal error's stack: for --debug and the output channel, not for the message. */
  | { id: number; type: 'error'; code: string; message: string; detail?: string };
