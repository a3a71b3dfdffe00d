// Public types of the context builder. It knows nothing of models or VS Code: the caller brings a tokenizer
// (`encode`) and whatever globs its settings hold.
import type { FileKind } from './kind.ts';

/** Tokenizer-agnostic encoder: text in, token ids out (no special tokens added). */
export type Encode = (text: string) => ArrayLike<number>;

export type Phase = 'discover' | 'stat' | 'order' | 'rank' | 'read' | 'render';

/** One folder of a multi-root workspace: its files' paths start with `name/`. */
export interface ContextRoot {
  name: string;
  path: string;
}

export interface Progress {
  phase: Phase;
  done: number;
  total: number;
}

export interface ContextOptions {
  encode: Encode;
  /** Most tokens the rendered context may take (model window minus the question/answer reserve). */
  maxTokens?: number;
  /** Files bigger than this are omitted unread. */
  maxFileBytes?: number;
  /** Hard cap on files discovered; the rest are not scanned and the report says so. */
  maxFiles?: number;
  /** Commits of history read to order files. */
  maxHistoryCommits?: number;
  /** Opt in to files that look like secrets (they end up in the cache on disk). */
  includeSecrets?: boolean;
  /** Default folder/lockfile/generated-file excludes; on unless false. */
  defaultExcludes?: boolean;
  /** Globs (picomatch, relative to root, `/`-separated); when given, only matching files are considered. */
  include?: string[];
  /** Globs to leave out (VS Code files.exclude / search.exclude, user settings); a match on a folder covers it. */
  exclude?: string[];
  /** Globs of files that rank before everything else (the user's own choice wins). */
  pinned?: string[];
  /** Most bytes parsed for the import graph; files past it rank without their imports. */
  maxGraphBytes?: number;
  /** 'auto' uses git when root is inside a work tree. */
  discovery?: 'auto' | 'git' | 'walk';
  /** Stored in the fingerprint: a different tokenizer invalidates every token range. */
  tokenizerId?: string;
  /**
   * The model tokenizer's control-token strings (`<|im_start|>`, `</s>`). `encode` keeps them plain text; a file
   * whose path or text holds one is noted in the report.
   */
  controlTokens?: readonly string[];
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export type OmitReason =
  | 'budget' // did not fit in maxTokens
  | 'too-large' // over maxFileBytes
  | 'binary'
  | 'secret'
  | 'default-dir' // dependency or build folder
  | 'lockfile'
  | 'generated' // minified, bundled, source map, very long lines, "Code generated ... DO NOT EDIT"
  | 'excluded' // matched an exclude glob
  | 'not-included' // include globs given and none matched
  | 'symlink' // never followed: it could point outside the workspace or loop
  | 'not-a-file' // FIFO, socket, device, or a directory git lists (submodule)
  | 'unreadable' // vanished, permission denied, I/O error
  | 'changed' // kept changing while read
  | 'file-limit'; // beyond maxFiles, not scanned

export interface OmittedFile {
  /** Workspace-relative, `/`-separated; a folder ends with `/`; '' for the file-limit entry. */
  path: string;
  reason: OmitReason;
  detail?: string;
  bytes?: number;
  tokens?: number;
  /** For budget omissions: the rank that lost. */
  rank?: number;
  kind?: FileKind;
}

export interface ContextFile {
  path: string;
  /** sha256 hex of the file's bytes as read. */
  hash: string;
  bytes: number;
  /** Token range [tokenStart, tokenEnd) of this file's segment (header + content) within tokenIds. */
  tokenStart: number;
  tokenEnd: number;
  /** UTF-16 offsets in text: the segment is [charStart, charEnd), the file's own content starts at contentStart. */
  charStart: number;
  contentStart: number;
  charEnd: number;
  /** Set when the file had invalid UTF-8 (replaced by U+FFFD) or was changed by rendering. */
  note?: string;
  /** The file went in as its outline: signatures, declarations and docstrings, function bodies left out. */
  outline?: true;
  /** The outline is at its tighter level: comments and docstrings left out too. */
  signatures?: true;
  /** Its place in the ranking by value (1 = first). */
  rank: number;
  kind: FileKind;
}

/** What the import graph behind the ranking covered. */
export interface GraphStats {
  /** Files in a supported language. */
  parseable: number;
  parsed: number;
  parsedBytes: number;
  /** Parseable files left unparsed by the byte cap. */
  capped: number;
  edges: number;
  ms: number;
}

export interface ContextStats {
  discovery: 'git' | 'walk';
  order: 'git-history' | 'mtime';
  /** Workspace folders (more than one: every path starts with its folder's name). */
  roots: number;
  /** Files that went in as outlines. */
  outlines: number;
  graph: GraphStats;
  scanned: number;
  included: number;
  omitted: number;
  ms: number;
}

export interface Fingerprint {
  version: number;
  tokenizerId?: string;
  totalTokens: number;
  files: { path: string; hash: string; tokenStart: number; tokenEnd: number; outline?: true; signatures?: true }[];
}

export interface BuiltContext {
  text: string;
  files: ContextFile[];
  omitted: OmittedFile[];
  totalTokens: number;
  tokenIds: number[];
  stats: ContextStats;
  fingerprint: Fingerprint;
}
