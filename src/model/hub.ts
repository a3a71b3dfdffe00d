// Hugging Face Hub download: resumable, verified, token-safe.
// node:http/https rather than fetch: we need manual redirects (to drop the token on another host), exact control
// over Range/206 and the socket errors that tell "offline" apart from "cut halfway".
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { dirname, join } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export type HubErrorCode =
  | 'unauthorized' // 401
  | 'forbidden' // 403: gated repo whose license the token's owner has not accepted
  | 'not-found' // 404
  | 'offline' // could not connect at all
  | 'network' // connected, then the transfer broke
  | 'integrity' // size or sha256 mismatch
  | 'http' // any other status
  | 'aborted';

/** A failed download. The message says what to do; it never holds the token. */
export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly status: number | undefined;
  constructor(code: HubErrorCode, message: string, status?: number) {
    super(message);
    this.name = 'HubError';
    this.code = code;
    this.status = status;
  }
}

export interface DownloadProgress {
  file: string;
  bytes: number;
  /** Expected size, when the server told us. */
  total: number | undefined;
  bytesPerSecond: number;
}

export interface DownloadOptions {
  /** Sent only to the host of `url`; dropped when a redirect leads to another host. */
  token?: string;
  /** Lower-case hex. When absent, the Hub's LFS ETag (x-linked-etag) is used if it is a sha256. */
  sha256?: string;
  size?: number;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Automatic resumes with Range after a broken transfer, within this call. */
  retries?: number;
  /** Label used in progress and messages (defaults to the file name). */
  label?: string;
  /** Lets the 401/403/404 advice point at the repo's page. */
  context?: { repo?: string; endpoint?: string };
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Bytes reused from an earlier partial download. */
  resumedFrom: number;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
const OFFLINE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNABORTED']);
const MAX_REDIRECTS = 10;
const PROGRESS_INTERVAL_MS = 200;

export function hubEndpoint(explicit?: string): string {
  return (explicit || process.env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

export function resolveUrl(repo: string, file: string, revision = 'main', endpoint?: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${hubEndpoint(endpoint)}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

interface Response {
  res: http.IncomingMessage;
  /** Headers of the first (Hub) response: the LFS metadata lives there, not on the CDN's. */
  linkedEtag: string | undefined;
  linkedSize: number | undefined;
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function requestOnce(url: URL, method: string, headers: Record<string, string>, signal?: AbortSignal): Promise<http.IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!mod) return Promise.reject(new HubError('http', `Unsupported URL scheme ${url.protocol} in ${url.origin}`));
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, signal });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Sends the request and follows redirects; the Authorization header goes only to the original host. */
async function request(
  urlStr: string,
  method: 'GET' | 'HEAD',
  opts: { token?: string; range?: number; signal?: AbortSignal; label: string; context?: DownloadOptions['context'] },
): Promise<Response> {
  const origin = new URL(urlStr);
  let url = origin;
  let linkedEtag: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'kvzip-code', 'accept-encoding': 'identity' };
    if (opts.token && url.host === origin.host && url.protocol === origin.protocol) headers.authorization = `Bearer ${opts.token}`;
    if (opts.range) headers.range = `bytes=${opts.range}-`;
    let res: http.IncomingMessage;
    try {
      res = await requestOnce(url, method, headers, opts.signal);
    } catch (err) {
      throw toHubError(err, url, opts.label, opts.signal);
    }
    linkedEtag ??= unquote(header(res, 'x-linked-etag'));
    const ls = header(res, 'x-linked-size');
    if (linkedSize === undefined && ls !== undefined && /^\d+$/.test(ls)) linkedSize = Number(ls);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && status !== 304) {
      const loc = header(res, 'location');
      if (!loc) {
        res.resume();
        throw new HubError('http', `${opts.label}: redirect ${status} without a Location from ${url.origin}`, status);
      }
      const next = new URL(loc, url);
      // A HEAD has what it came for once the Hub named the LFS object: no need to ask the CDN.
      if (method === 'HEAD' && next.host !== url.host && linkedSize !== undefined) return { res, linkedEtag, linkedSize };
      res.resume();
      url = next;
      continue;
    }
    if (status >= 400 && status !== 416) {
      res.resume();
      throw statusError(status, res, opts.label, Boolean(opts.token), url, opts.context);
    }
    if (status === 200 && !linkedEtag) linkedEtag = unquote(header(res, 'etag'));
    return { res, linkedEtag, linkedSize };
  }
  throw new HubError('http', `${opts.label}: more than ${MAX_REDIRECTS} redirects from ${origin.origin}`);
}

function statusError(
  status: number,
  res: http.IncomingMessage,
  label: string,
  hadToken: boolean,
  url: URL,
  context: DownloadOptions['context'],
): HubError {
  const page = context?.repo ? `${hubEndpoint(context.endpoint)}/${context.repo}` : url.origin;
  const hubCode = header(res, 'x-error-code');
  if (status === 401) {
    return hadToken
      ? new HubError(
          'unauthorized',
          `${label}: the Hugging Face token was rejected (401). Create a new read token at ${hubEndpoint(context?.endpoint)}/settings/tokens and set it again.`,
          status,
        )
      : new HubError(
          'unauthorized',
          `${label}: authentication required (401). The model is gated or private: accept its license at ${page}, then set a Hugging Face access token.`,
          status,
        );
  }
  if (status === 403) {
    return new HubError(
      'forbidden',
      `${label}: access denied (403). Accept the model's license at ${page} with the account that owns the token, and make sure the token has read access.`,
      status,
    );
  }
  if (status === 404) {
    const what = hubCode === 'RepoNotFound' ? 'repository' : 'file';
    return new HubError(
      'not-found',
      `${label}: ${what} not found (404) at ${url.origin}. Check the model id and revision, or choose a local model folder.`,
      status,
    );
  }
  return new HubError(
    'http',
    `${label}: the server answered ${status} ${res.statusMessage ?? ''}`.trimEnd() + `. Try again later.`,
    status,
  );
}

function toHubError(err: unknown, url: URL, label: string, signal?: AbortSignal): HubError {
  if (err instanceof HubError) return err;
  const e = err as NodeJS.ErrnoException;
  if (signal?.aborted || e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
    return new HubError('aborted', `${label}: download cancelled.`);
  if (e?.code && OFFLINE_CODES.has(e.code)) {
    return new HubError(
      'offline',
      `${label}: cannot reach ${url.origin} (${e.code}). Check the network connection or proxy, set HF_ENDPOINT to a reachable mirror, or choose a local model folder.`,
    );
  }
  return new HubError(
    'network',
    `${label}: the transfer from ${url.origin} broke (${e?.code ?? e?.message ?? String(err)}). Run the download again: it resumes where it stopped.`,
  );
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashInto(hash: ReturnType<typeof createHash>, path: string, signal?: AbortSignal): Promise<void> {
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
}

/**
 * Downloads `url` to `dest`. Bytes go to `dest.part`; it becomes `dest` only after its size and sha256 check out,
 * so a file at `dest` is always complete. A `.part` left by an interruption is resumed with Range.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const retries = opts.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await downloadAttempt(url, dest, opts);
    } catch (err) {
      // Only a broken transfer is worth retrying: its .part is kept and the next attempt resumes it.
      if (!(err instanceof HubError) || err.code !== 'network' || attempt >= retries || opts.signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 200 * 2 ** attempt)));
    }
  }
}

async function downloadAttempt(url: string, dest: string, opts: DownloadOptions): Promise<DownloadResult> {
  const label = opts.label ?? dest.split(/[\\/]/).pop() ?? dest;
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  let have = await fileSize(part);
  if (opts.size !== undefined && have > opts.size) {
    await rm(part, { force: true });
    have = 0;
  }
  const { res, linkedEtag, linkedSize } = await request(url, 'GET', {
    token: opts.token,
    range: have || undefined,
    signal: opts.signal,
    label,
    context: opts.context,
  });
  const status = res.statusCode ?? 0;
  let offset = 0;
  let total: number | undefined = opts.size ?? linkedSize;
  if (status === 416) {
    // Our .part is not a prefix of what the server has (it changed, or the part is oversize): start over.
    res.resume();
    await rm(part, { force: true });
    return downloadAttempt(url, dest, opts);
  }
  if (status === 206) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(res, 'content-range') ?? '');
    if (!m || Number(m[1]) !== have) {
      res.resume();
      await rm(part, { force: true });
      throw new HubError(
        'network',
        `${label}: the server resumed at the wrong offset; the partial file was discarded. Run the download again.`,
      );
    }
    offset = have;
    if (total === undefined && m[2] !== '*') total = Number(m[2]);
  } else {
    // 200: a fresh copy (the server may ignore Range), so any old part is dropped.
    const len = header(res, 'content-length');
    if (total === undefined && len !== undefined) total = Number(len);
  }
  const expectedSha = (opts.sha256 ?? (linkedEtag && SHA256_RE.test(linkedEtag) ? linkedEtag : undefined))?.toLowerCase();

  const hash = createHash('sha256');
  if (offset > 0)
    await hashInto(hash, part, opts.signal).catch((err: unknown) => Promise.reject(toHubError(err, new URL(url), label, opts.signal)));
  const out = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
  let bytes = offset;
  const started = Date.now();
  let lastReport = 0;
  const report = (force: boolean) => {
    const now = Date.now();
    if (!opts.onProgress || (!force && now - lastReport < PROGRESS_INTERVAL_MS)) return;
    lastReport = now;
    const secs = Math.max((now - started) / 1000, 1e-3);
    opts.onProgress({ file: label, bytes, total, bytesPerSecond: (bytes - offset) / secs });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const cut = () => Object.assign(new Error('connection closed mid-transfer'), { code: 'ECONNRESET' });
      const fail = (err: unknown) => {
        if (done) return;
        done = true;
        res.destroy();
        // Flush what arrived so the .part holds every received byte and the next attempt resumes after it.
        out.end(() => reject(err));
      };
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        hash.update(chunk);
        bytes += chunk.length;
        if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
        report(false);
      });
      res.on('error', fail);
      // 'close' without a complete body is a cut, even when no error was emitted.
      res.on('close', () => {
        if (!res.complete) fail(cut());
      });
      out.on('error', (err) => {
        if (done) return;
        done = true;
        res.destroy();
        reject(err);
      });
      res.on('end', () => {
        if (done) return;
        if (!res.complete) return fail(cut());
        done = true;
        out.end(resolve);
      });
    });
  } catch (err) {
    throw toHubError(err, new URL(url), label, opts.signal);
  }
  report(true);

  if (total !== undefined && bytes < total) {
    throw new HubError('network', `${label}: got ${bytes} of ${total} bytes. Run the download again: it resumes where it stopped.`);
  }
  if (total !== undefined && bytes > total) {
    await rm(part, { force: true });
    throw new HubError('integrity', `${label}: got ${bytes} bytes, expected ${total}; the file was discarded. Run the download again.`);
  }
  const sha256 = hash.digest('hex');
  if (expectedSha && sha256 !== expectedSha) {
    await rm(part, { force: true });
    throw new HubError(
      'integrity',
      `${label}: sha256 mismatch (expected ${expectedSha}, got ${sha256}); the corrupt download was deleted. Run the download again; if it repeats, the mirror serves bad data.`,
    );
  }
  await rename(part, dest);
  return { path: dest, size: bytes, sha256, resumedFrom: offset };
}

export interface FileInfo {
  file: string;
  size: number | undefined;
  /** sha256 for LFS files, from the Hub's x-linked-etag. */
  sha256: string | undefined;
}

/** HEAD without downloading: size and sha256 (LFS) of one file, or a HubError (404 etc.). */
export async function fileInfo(repo: string, file: string, opts: HubOptions = {}): Promise<FileInfo> {
  const url = resolveUrl(repo, file, opts.revision, opts.endpoint);
  const { res, linkedEtag, linkedSize } = await request(url, 'HEAD', {
    token: opts.token,
    signal: opts.signal,
    label: file,
    context: { repo, endpoint: opts.endpoint },
  });
  res.resume();
  const len = header(res, 'content-length');
  return {
    file,
    size: linkedSize ?? (len !== undefined ? Number(len) : undefined),
    sha256: linkedEtag && SHA256_RE.test(linkedEtag) ? linkedEtag : undefined,
  };
}

export interface HubOptions {
  revision?: string;
  endpoint?: string;
  token?: string;
  signal?: AbortSignal;
}

export interface ModelDownloadProgress extends DownloadProgress {
  fileIndex: number;
  fileCount: number;
  /** Over all files of the model, when every size is known. */
  overallBytes: number;
  overallTotal: number | undefined;
}

export interface ModelDownloadOptions extends HubOptions {
  onProgress?: (p: ModelDownloadProgress) => void;
  retries?: number;
}

const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
const OPTIONAL_FILES = ['generation_config.json'];
const SHARD_INDEX = 'model.safetensors.index.json';

/**
 * Downloads what the engine needs to run `repo` into `targetDir`: config, tokenizer files, generation config if the
 * repo has one, and the safetensors weights (single file, or index plus shards). Files already complete in
 * `targetDir` are kept, so calling it again after a failure continues where it stopped.
 */
export async function downloadModel(repo: string, targetDir: string, opts: ModelDownloadOptions = {}): Promise<{ files: string[] }> {
  const ctx = { repo, endpoint: opts.endpoint };
  const plan: FileInfo[] = [];
  for (const f of REQUIRED_FILES) plan.push(await fileInfo(repo, f, opts));
  for (const f of OPTIONAL_FILES) {
    try {
      plan.push(await fileInfo(repo, f, opts));
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'not-found')) throw err;
    }
  }
  // The shard index is small and names the shards, so it is fetched before planning the rest.
  let shards: string[];
  try {
    const info = await fileInfo(repo, SHARD_INDEX, opts);
    const indexPath = join(targetDir, SHARD_INDEX);
    if (!(await fileSize(indexPath))) {
      await downloadFile(resolveUrl(repo, SHARD_INDEX, opts.revision, opts.endpoint), indexPath, {
        token: opts.token,
        sha256: info.sha256,
        size: info.size,
        signal: opts.signal,
        retries: opts.retries,
        label: SHARD_INDEX,
        context: ctx,
      });
    }
    const index = JSON.parse(await readFile(indexPath, 'utf8')) as { weight_map?: Record<string, string> };
    shards = [...new Set(Object.values(index.weight_map ?? {}))].sort();
    if (shards.length === 0) throw new HubError('integrity', `${SHARD_INDEX} of ${repo} lists no shards.`);
    if (shards.some((s) => s.includes('..') || s.startsWith('/')))
      throw new HubError('integrity', `${SHARD_INDEX} of ${repo} names a shard outside the repository.`);
  } catch (err) {
    if (!(err instanceof HubError && err.code === 'not-found')) throw err;
    shards = ['model.safetensors'];
  }
  for (const s of shards) plan.push(await fileInfo(repo, s, opts));

  const sizes = plan.map((p) => p.size);
  const overallTotal = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0) : undefined;
  let doneBytes = 0;
  const files: string[] = [SHARD_INDEX].filter(() => shards[0] !== 'model.safetensors');
  for (const [i, info] of plan.entries()) {
    const dest = join(targetDir, info.file);
    const existing = await fileSize(dest);
    if (existing > 0 && (info.size === undefined || existing === info.size)) {
      doneBytes += existing;
    } else {
      const r = await downloadFile(resolveUrl(repo, info.file, opts.revision, opts.endpoint), dest, {
        token: opts.token,
        sha256: info.sha256,
        size: info.size,
        signal: opts.signal,
        retries: opts.retries,
        label: info.file,
        context: ctx,
        onProgress: (p) =>
          opts.onProgress?.({ ...p, fileIndex: i, fileCount: plan.length, overallBytes: doneBytes + p.bytes, overallTotal }),
      });
      doneBytes += r.size;
    }
    files.push(info.file);
  }
  return { files };
}

/** GETs a small JSON document with the same redirect, token and error handling as downloads. */
export async function fetchJson<T>(url: string, opts: { token?: string; signal?: AbortSignal; label?: string } = {}): Promise<T> {
  const label = opts.label ?? new URL(url).pathname;
  const { res } = await request(url, 'GET', { token: opts.token, signal: opts.signal, label });
  const chunks: Buffer[] = [];
  try {
    for await (const c of res) chunks.push(c as Buffer);
  } catch (err) {
    throw toHubError(err, new URL(url), label, opts.signal);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  } catch {
    throw new HubError('integrity', `${label}: the server at ${new URL(url).origin} did not answer with JSON.`);
  }
}
