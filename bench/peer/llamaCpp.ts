// llama.cpp's command-line tools as the peer bench runs them: finding the binaries, running one as a fresh
// process (wall clock from spawn to its first output and to its exit), and reading the figures it prints. Never builds llama.cpp: the bench
// uses what `--llama-cpp DIR` or LLAMA_CPP_BIN points at (docs/benchmarks.md says how to get it).
import { spawn } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const LLAMA_TOOLS = ['llama-bench', 'llama-completion', 'llama-quantize', 'llama-tokenize'] as const;
export type LlamaTool = (typeof LLAMA_TOOLS)[number];

export interface Proc {
  code: number;
  wallMs: number;
  /** From spawn to the first bytes on stdout: an answer's first token, for a command that prints only the answer. */
  firstOutMs?: number;
  stdout: string;
  stderr: string;
}

/** Runs `file` to its exit; wall time from spawn to exit, and to its first output. */
export function runProcess(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    let firstOutMs: number | undefined;
    child.stdout.on('data', (b: Buffer) => {
      if (firstOutMs === undefined && b.length) firstOutMs = performance.now() - start;
      stdout += b;
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), wallMs: performance.now() - start, firstOutMs, stdout, stderr }),
    );
  });
}

/** The folder holding every tool, or why there is none. */
export function findLlamaCpp(dir: string | undefined): { dir: string } | { missing: string } {
  if (!dir) return { missing: 'neither --llama-cpp DIR nor LLAMA_CPP_BIN is set' };
  const absent = LLAMA_TOOLS.filter((t) => !existsSync(join(dir, t)));
  return absent.length ? { missing: `${dir} lacks ${absent.join(', ')}` } : { dir };
}

export class LlamaCpp {
  /** The tools find their shared libraries beside them (a CMake build's bin folder). */
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly dir: string) {
    const lib = process.env.LD_LIBRARY_PATH;
    this.env = { ...process.env, LD_LIBRARY_PATH: lib ? `${dir}:${lib}` : dir };
  }

  async run(tool: LlamaTool, args: string[]): Promise<Proc> {
    const p = await runProcess(join(this.dir, tool), args, this.env);
    if (p.code !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${p.code}: ${(p.stderr + p.stdout).slice(-1500)}`);
    return p;
  }

  /** `llama-completion --version`: "version: 0.5.0-dev (build 1, commit 0c1e570)" and the compiler line. */
  async version(): Promise<string> {
    const p = await this.run('llama-completion', ['--version']);
    return (p.stderr + p.stdout)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^(version|built with)/.test(l))
      .join('; ');
  }

  /** `out` made by llama-quantize from `input` as `type` (F32, Q4_0, ...), unless it is there already. */
  async quantize(input: string, out: string, type: string): Promise<boolean> {
    if (existsSync(out)) return false;
    // Written aside and renamed: a stopped run leaves no half file that a later run would take as made.
    const part = `${out}.part`;
    rmSync(part, { force: true });
    await this.run('llama-quantize', ['--allow-requantize', input, part, type]);
    renameSync(part, out);
    return true;
  }

  /** Tokens llama.cpp makes of a prompt file as llama-completion reads it (special tokens parsed, no escapes). */
  async tokenCount(model: string, file: string): Promise<number> {
    const p = await this.run('llama-tokenize', ['-m', model, '-f', file, '--no-escape', '--show-count', '--ids', '--log-disable']);
    const m = /Total number of tokens: (\d+)/.exec(p.stdout);
    if (!m) throw new Error(`llama-tokenize printed no token count: ${p.stdout.slice(-500)}`);
    return Number(m[1]);
  }
}

/** llama-completion's own timings (common_perf_print), and what it said of the prompt cache. */
export interface CompletionPerf {
  loadMs: number;
  promptEvalMs: number;
  promptEvalTokens: number;
  evalMs: number;
  evalRuns: number;
  /** ms per generated token after the first (llama.cpp's "eval time ... per token"). */
  evalMsPerToken: number;
  /** "session file matches N / M tokens", "exact match", or "" with no prompt cache. */
  cacheMatch: string;
}

export function completionPerf(stderr: string): CompletionPerf {
  const num = (re: RegExp) => {
    const m = re.exec(stderr);
    if (!m) throw new Error(`llama-completion printed no ${re.source}: ${stderr.slice(-800)}`);
    return Number(m[1]);
  };
  const prompt = /prompt eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/.exec(stderr);
  const evals = /\s eval time =\s*([\d.]+) ms \/\s*(\d+) runs/.exec(stderr);
  if (!prompt || !evals) throw new Error(`llama-completion printed no perf lines: ${stderr.slice(-800)}`);
  const match = /session file (matches \d+ \/ \d+ tokens|has exact match)/.exec(stderr);
  const evalRuns = Number(evals[2]);
  return {
    loadMs: num(/load time =\s*([\d.]+) ms/),
    promptEvalMs: Number(prompt[1]),
    promptEvalTokens: Number(prompt[2]),
    evalMs: Number(evals[1]),
    evalRuns,
    evalMsPerToken: evalRuns ? Number(evals[1]) / evalRuns : NaN,
    cacheMatch: match?.[1] ?? '',
  };
}

/** One llama-bench result row (`-o json`). */
export interface BenchRow {
  build_commit: string;
  build_number: number;
  model_type: string;
  n_prompt: number;
  n_gen: number;
  n_depth: number;
  n_threads: number;
  flash_attn: number | boolean;
  avg_ts: number;
  stddev_ts: number;
  samples_ts: number[];
}
