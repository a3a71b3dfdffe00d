// Client for the engine process. The engine runs in its own process because onnxruntime blocks its thread for
// whole runs and a crash or out-of-memory there must not take the editor down. It is forked on the first request,
// and forked again on the next request after it died.
import { fork, type ChildProcess } from 'node:child_process';
import type { Event, Request, RequestType, Results } from './protocol.ts';
import { removeLeftovers } from '../cache/leftovers.ts';

/** What a client submits: each request type with its own fields, less the id (cancel goes through cancel()). */
export type RequestBody = { [K in RequestType]: Omit<Extract<Request, { type: K }>, 'id'> }[RequestType];

export class EngineError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The engine's stack for an internal error. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

interface Pending {
  onEvent: (e: Event) => void;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

export interface RunningRequest<T> {
  id: number;
  result: Promise<T>;
  cancel(): void;
}

const STDERR_KEEP = 4_000;
/** How long a disposed engine gets to unwind from SIGTERM before it is killed. */
const DISPOSE_GRACE_MS = 3_000;

export class EngineClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stderrTail = '';
  private disposed = false;
  private readonly crashListeners = new Set<(message: string) => void>();
  /** The cache folders requests named: where a killed engine's temporary files are. */
  private readonly cacheDirs = new Set<string>();

  constructor(
    private readonly enginePath: string,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Called with a readable reason whenever the engine process exits while requests were running or unexpectedly. */
  onCrash(listener: (message: string) => void): { dispose(): void } {
    this.crashListeners.add(listener);
    return { dispose: () => this.crashListeners.delete(listener) };
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Sends one request; its result has the type the protocol gives that request type. */
  request<B extends RequestBody>(body: B, onEvent: (e: Event) => void = () => {}): RunningRequest<Results[B['type']]> {
    if (this.disposed) throw new EngineError('disposed', 'The KVzip engine client was disposed.');
    const id = this.nextId++;
    if ('cacheDir' in body && typeof body.cacheDir === 'string') this.cacheDirs.add(body.cacheDir);
    const result = new Promise<Results[B['type']]>((resolve, reject) => {
      this.pending.set(id, { onEvent, resolve: resolve as (r: unknown) => void, reject });
    });
    try {
      this.ensureChild().send({ ...body, id } as Request);
    } catch (err) {
      this.settle(id, (p) => p.reject(new EngineError('spawn', `Could not start the KVzip engine: ${String(err)}`)));
    }
    return { id, result, cancel: () => this.cancel(id) };
  }

  cancel(target: number): void {
    if (this.child && this.pending.has(target)) {
      this.child.send({ id: this.nextId++, type: 'cancel', target } satisfies Request);
    }
  }

  dispose(): void {
    this.disposed = true;
    const child = this.child;
    this.child = undefined;
    for (const id of [...this.pending.keys()]) {
      this.settle(id, (p) => p.reject(new EngineError('disposed', 'The KVzip engine was stopped.')));
    }
    if (child && child.exitCode === null) {
      // The engine unwinds on SIGTERM, removing its temporary files; one blocked in a model run is killed.
      child.kill('SIGTERM');
      const timer = setTimeout(() => void this.killNow(child), DISPOSE_GRACE_MS).unref();
      child.once('exit', () => clearTimeout(timer));
    }
  }

  /**
   * Stops the engine now. A cancel takes effect between model runs, and one run (or a weight conversion) lasts
   * minutes on a real model; this kills the engine instead, ends its requests as cancelled, and removes the
   * temporary files it left in the cache folders its requests named. The next request starts a new engine.
   */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(new EngineError('cancelled', 'Cancelled')));
    if (child) await this.killNow(child);
  }

  private async killNow(child: ChildProcess): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    if (child.pid !== undefined) for (const dir of this.cacheDirs) removeLeftovers(dir, child.pid);
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    this.stderrTail = '';
    this.log(`starting engine ${this.enginePath}`);
    const child = fork(this.enginePath, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
      // Desktop VS Code's execPath is Electron: this makes it behave as plain Node. Harmless under Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      serialization: 'json',
    });
    child.stdout?.on('data', (d: Buffer) => this.log(d.toString().trimEnd()));
    child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      this.log(text.trimEnd());
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_KEEP);
    });
    child.on('message', (m) => this.onMessage(m));
    child.on('error', (err) => this.onExit(child, `could not run: ${err.message}`));
    child.on('exit', (code, signal) => this.onExit(child, signal ? `was killed by ${signal}` : `exited with code ${code}`));
    this.child = child;
    return child;
  }

  private onMessage(raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return;
    const e = raw as Event;
    const p = this.pending.get(e.id);
    if (!p) return;
    p.onEvent(e);
    if (e.type === 'result') this.settle(e.id, (q) => q.resolve(e.result));
    else if (e.type === 'error') {
      if (e.detail) this.log(e.detail);
      this.settle(e.id, (q) => q.reject(new EngineError(e.code, e.message, e.detail)));
    }
  }

  private onExit(child: ChildProcess, how: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    if (this.disposed) return;
    const tail = this.stderrTail.trim().split('\n').slice(-6).join('\n');
    const message = `The KVzip engine ${how}.${tail ? `\n${tail}` : ''}`;
    this.log(message);
    for (const id of [...this.pending.keys()]) {
      this.settle(id, (p) => p.reject(new EngineError('crash', `${message}\nIt restarts on the next request.`)));
    }
    for (const l of this.crashListeners) l(message);
  }

  private settle(id: number, f: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    f(p);
  }
}
