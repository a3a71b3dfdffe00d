// Fault injection (issue 13): damage every file of a cache entry and of a prepared model in every byte class
// (truncate, flip, swap, zero), make a few edits that keep the file well-formed, run builds, asks and clears
// against each other, and kill -9 builders and askers; then ask through the real CLI, as a user would.
//
// Each case starts from a pristine copy of one built cache (cp -a, so the hard link between the prepared
// weights and the generation's weights.bin is kept) and asks the question an undamaged cache answered. A case is
//   - detected when the damage was acted on: the entry was rebuilt, or the damaged file was replaced or rewritten;
//   - answered correctly when ask exits 0 with the undamaged cache's answer;
//   - a wrong answer when ask exits 0 with another answer (silent wrong answers: wrong and not detected);
//   - refused when ask exits non-zero with a message and no stack;
//   - crashed when ask prints "Internal error" or a stack, dies on a signal or hangs past the timeout.
// stories260K on the CPU keeps each ask at a second or two.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, RESULTS_DIR } from './randomQwen.ts';
import { killCliAfter, storyWorkspace } from '../test/support/cli.ts';

const STORIES = join(BENCH_DIR, '..', '..', 'shared', 'models', 'stories260K');
const CLI = join(BENCH_DIR, '..', 'dist', 'cli.js');
const QUESTION = 'Tom and Max';
const ASK_TIMEOUT_MS = 90_000;
const log = (s: string) => console.error(s);

if (!existsSync(STORIES)) throw new Error(`${STORIES} not found: the shared stories260K model is needed`);
if (!existsSync(CLI)) throw new Error('dist/cli.js missing: run npm run build');

interface Run {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeoutMs = ASK_TIMEOUT_MS): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: string; killed?: boolean }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        timedOut: !!e?.killed,
        stdout,
        stderr,
      });
    });
  });
}

const root = mkdtempSync(join(tmpdir(), 'kvzip-faults-'));
const ws = storyWorkspace();
const pristine = join(root, 'pristine');
const askArgs = (cache: string) => ['ask', ws, QUESTION, '--model', STORIES, '--cache-dir', cache, '--max-tokens', '24', '--json'];
const buildArgs = (cache: string, extra: string[] = []) => ['build', ws, '--model', STORIES, '--cache-dir', cache, ...extra];

// ------------------------------------------------------------------------------------------ outcomes
type Outcome = 'correct' | 'wrong' | 'refused' | 'crashed';
interface Case {
  target: string;
  fault: string;
  detected: boolean;
  outcome: Outcome;
  note?: string;
}
const cases: Case[] = [];
let reference = '';

const STACK = /\bat .*\.(js|ts):\d+/;
function outcomeOf(r: Run): { outcome: Outcome; answer?: string; fromCache?: boolean; note?: string } {
  if (r.timedOut || r.signal) return { outcome: 'crashed', note: r.timedOut ? 'hung' : `signal ${r.signal}` };
  if (/Internal error/.test(r.stderr) || STACK.test(r.stderr)) return { outcome: 'crashed', note: lastLine(r.stderr) };
  if (r.code !== 0) return { outcome: 'refused', note: lastLine(r.stderr) };
  try {
    const a = JSON.parse(r.stdout) as { answer: string; fromCache: boolean };
    return { outcome: a.answer === reference ? 'correct' : 'wrong', answer: a.answer, fromCache: a.fromCache };
  } catch {
    return { outcome: 'crashed', note: `unparsable output: ${r.stdout.slice(0, 80)}` };
  }
}
const lastLine = (s: string) => s.trim().split('\n').at(-1)?.slice(0, 160);

// ------------------------------------------------------------------------------------------ the cache
function entryGen(cache: string): string {
  const entries = join(cache, 'entries');
  const [key] = readdirSync(entries);
  return join(entries, key!, readFileSync(join(entries, key!, 'current'), 'utf8').trim());
}
function preparedDir(cache: string): string {
  const models = join(cache, 'models');
  return join(
    models,
    readdirSync(models).find((d) => d.endsWith('-fp32'))!,
  );
}

/** Every file a user could find damaged, relative to a fresh copy of the pristine cache. */
const TARGETS: [string, (cache: string) => string][] = [
  ['entry manifest.json', (c) => join(entryGen(c), 'manifest.json')],
  ['entry kv.bin', (c) => join(entryGen(c), 'kv.bin')],
  ['entry keep.bin', (c) => join(entryGen(c), 'keep.bin')],
  ['entry decode.onnx', (c) => join(entryGen(c), 'decode.onnx')],
  ['entry weights.bin (hard link)', (c) => join(entryGen(c), 'weights.bin')],
  ['entry current pointer', (c) => join(entryGen(c), '..', 'current')],
  ['prepared weights.bin', (c) => join(preparedDir(c), 'weights.bin')],
  ['prepared weights.json', (c) => join(preparedDir(c), 'weights.json')],
  ['prepared dense.onnx', (c) => join(preparedDir(c), 'dense.onnx')],
  ['prepared weights.bin.checked', (c) => join(preparedDir(c), 'weights.bin.checked')],
  ['checkpoint-sums.json', (c) => join(c, 'models', 'checkpoint-sums.json')],
];

/** Byte classes, applied in place (writeFileSync keeps the inode, as an editor or a bad disk would). */
const FAULTS: [string, (b: Buffer) => Buffer][] = [
  ['truncate to half', (b) => b.subarray(0, Math.floor(b.length / 2))],
  [
    'flip one bit',
    (b) => {
      const c = Buffer.from(b);
      c[Math.floor(c.length / 2)]! ^= 0x04;
      return c;
    },
  ],
  [
    'swap two chunks',
    (b) => {
      const c = Buffer.from(b);
      const n = Math.max(1, Math.min(64, Math.floor(c.length / 8)));
      const [i, j] = [Math.floor(c.length / 4), Math.floor((3 * c.length) / 4) - n];
      const a = Buffer.from(c.subarray(i, i + n));
      c.copy(c, i, j, j + n);
      a.copy(c, j);
      return c;
    },
  ],
  [
    'zero a block',
    (b) => {
      const c = Buffer.from(b);
      const n = Math.max(1, Math.min(4096, Math.floor(c.length / 2)));
      c.fill(0, Math.floor((c.length - n) / 2), Math.floor((c.length - n) / 2) + n);
      return c;
    },
  ],
];

/** Edits that keep the file well-formed: what a checksum over bytes of one file alone would miss. */
const EDITS: [string, string, (cache: string) => void][] = [
  [
    'entry manifest.json',
    'one bit of sequenceLength',
    (c) => {
      const f = join(entryGen(c), 'manifest.json');
      const t = readFileSync(f, 'utf8');
      const n = Number(/"sequenceLength": (\d+)/.exec(t)![1]);
      writeFileSync(f, t.replace(`"sequenceLength": ${n}`, `"sequenceLength": ${n ^ 1}`));
    },
  ],
  [
    'entry manifest.json',
    '"files": {} and a flipped kv.bin',
    (c) => {
      const gen = entryGen(c);
      const f = join(gen, 'manifest.json');
      writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), files: {} }, null, 1));
      const kv = readFileSync(join(gen, 'kv.bin'));
      kv[Math.floor(kv.length / 2)]! ^= 0x40;
      writeFileSync(join(gen, 'kv.bin'), kv);
    },
  ],
  [
    'prepared weights.json',
    'two tensors swapped',
    (c) => {
      const f = join(preparedDir(c), 'weights.json');
      const index = JSON.parse(readFileSync(f, 'utf8'));
      const [a, b] = ['model.layers.0.mlp.up_proj.weight', 'model.layers.0.mlp.gate_proj.weight'];
      [index.tensors[a], index.tensors[b]] = [index.tensors[b], index.tensors[a]];
      writeFileSync(f, JSON.stringify(index));
    },
  ],
  [
    'prepared weights.bin',
    'top exponent bit of one weight, mtime kept',
    (c) => {
      const f = join(preparedDir(c), 'weights.bin');
      const st = statSync(f);
      const b = readFileSync(f);
      b[Math.floor(b.length / 8) * 4 + 3]! ^= 0x40;
      writeFileSync(f, b);
      execFileSync('touch', ['-d', `@${st.mtimeMs / 1000}`, f]);
    },
  ],
  ['entry current pointer', 'garbage name', (c) => writeFileSync(join(entryGen(c), '..', 'current'), 'gen-../../etc')],
  ['entry folder', 'generation removed', (c) => rmSync(entryGen(c), { recursive: true })],
];

function freshCache(name: string): string {
  const cache = join(root, name);
  rmSync(cache, { recursive: true, force: true });
  execFileSync('cp', ['-a', pristine, cache]);
  return cache;
}

/** The state the damage left, to tell afterwards whether anything reacted to it. */
function snapshot(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${readFileSync(file).toString('base64')}`;
  } catch {
    return undefined;
  }
}

async function askDamaged(cache: string, target: string, fault: string, file?: string): Promise<void> {
  const prepared = join(preparedDir(cache), 'weights.bin');
  const preparedBefore = snapshot(prepared);
  const damaged = file ? snapshot(file) : undefined;
  const r = await cli(askArgs(cache));
  const o = outcomeOf(r);
  // Acted on: rebuilt (not answered from the cache), the prepared weights replaced, or the damaged file rewritten.
  const detected = o.fromCache === false || snapshot(prepared) !== preparedBefore || (file !== undefined && snapshot(file) !== damaged);
  cases.push({ target, fault, detected, outcome: o.outcome, note: o.note });
  log(`${target} / ${fault}: ${o.outcome}${detected ? ', detected' : ''}${o.note ? ` (${o.note})` : ''}`);
}

// ------------------------------------------------------------------------------------------ concurrency
/** A race or a kill has nothing to detect: "detected" means the ask had to rebuild; any wrong answer is silent. */
function record(target: string, fault: string, r: Run, others: Run[] = []): void {
  const o = outcomeOf(r);
  const broken = others.find((b) => b.code !== 0);
  const outcome = broken ? 'crashed' : o.outcome;
  cases.push({ target, fault, detected: o.fromCache === false, outcome, note: broken ? lastLine(broken.stderr) : o.note });
  log(`${target} / ${fault}: ${outcome}${o.note ? ` (${o.note})` : ''}`);
}

async function concurrent(): Promise<void> {
  // Asks back to back while another process rebuilds the same entry.
  for (let round = 0; round < 8; round++) {
    const cache = freshCache('concurrent');
    const builder = cli(buildArgs(cache, ['--force']));
    let done = false;
    void builder.then(() => (done = true));
    const asks: Run[] = [];
    do asks.push(await cli(askArgs(cache)));
    while (!done);
    const b = await builder;
    for (const a of asks) record('concurrent', 'ask during build --force', a, [b]);
  }
  // Clear while an ask runs: the ask answers (from its pinned generation, or after building again).
  for (let i = 0; i < 3; i++) {
    const cache = freshCache('concurrent');
    const asked = cli(askArgs(cache));
    await new Promise((r) => setTimeout(r, 200 + 300 * i));
    const cleared = await cli(['clear', ws, '--cache-dir', cache]);
    record('concurrent', 'clear during ask', await asked, [cleared]);
  }
  // Two builders and an ask at once.
  for (let i = 0; i < 2; i++) {
    const cache = freshCache('concurrent');
    const [a, b, q] = await Promise.all([cli(buildArgs(cache, ['--force'])), cli(buildArgs(cache, ['--force'])), cli(askArgs(cache))]);
    record('concurrent', 'two builders and an ask', q, [a, b]);
  }
}

async function killed(): Promise<void> {
  const runs: [string, (cache: string) => string[], number[]][] = [
    ['kill -9 of build --force', (c) => buildArgs(c, ['--force']), [100, 300, 600, 900, 1300]],
    ['kill -9 of ask', askArgs, [100, 400, 800]],
  ];
  for (const [what, args, delays] of runs) {
    for (const delay of delays) {
      const cache = freshCache('killed');
      await killCliAfter(args(cache), delay);
      record('killed', `${what} at ${delay} ms`, await cli(askArgs(cache)));
    }
  }
}

// ------------------------------------------------------------------------------------------ main
const started = new Date();
const t0 = performance.now();
const built = await cli(buildArgs(pristine));
if (built.code !== 0) throw new Error(`the pristine build failed:\n${built.stderr}`);
const first = await cli(askArgs(pristine));
if (first.code !== 0) throw new Error(`the pristine ask failed:\n${first.stderr}`);
reference = (JSON.parse(first.stdout) as { answer: string }).answer;
log(`reference answer: ${JSON.stringify(reference)}`);

for (const [target, path] of TARGETS) {
  for (const [fault, damage] of FAULTS) {
    const cache = freshCache('case');
    const file = path(cache);
    // Files an older layout does not write (the bench also runs against earlier commits, for comparison).
    if (!existsSync(file)) {
      log(`${target}: absent, skipped`);
      break;
    }
    writeFileSync(file, damage(readFileSync(file)));
    await askDamaged(cache, target, fault, file);
  }
}
for (const [target, fault, edit] of EDITS) {
  const cache = freshCache('case');
  edit(cache);
  await askDamaged(cache, target, fault);
}
await concurrent();
await killed();
rmSync(root, { recursive: true, force: true });
rmSync(ws, { recursive: true, force: true });

// ------------------------------------------------------------------------------------------ results
const groups = new Map<string, Case[]>();
const groupOf = (c: Case) =>
  c.target === 'concurrent' || c.target === 'killed' ? `${c.target}: ${c.fault.replace(/ at \d+ ms$/, '')}` : c.target;
for (const c of cases) groups.set(groupOf(c), [...(groups.get(groupOf(c)) ?? []), c]);
const count = (cs: Case[], f: (c: Case) => boolean) => cs.filter(f).length;
const row = (name: string, cs: Case[]) => [
  name,
  cs.length,
  count(cs, (c) => c.detected),
  count(cs, (c) => c.outcome === 'correct'),
  count(cs, (c) => c.outcome === 'wrong' && !c.detected),
  count(cs, (c) => c.outcome === 'wrong'),
  count(cs, (c) => c.outcome === 'refused'),
  count(cs, (c) => c.outcome === 'crashed'),
];
const rows = [...groups].map(([name, cs]) => row(name, cs));
rows.push(row('**all**', cases));
const totals = {
  tried: cases.length,
  detected: count(cases, (c) => c.detected),
  answeredCorrectly: count(cases, (c) => c.outcome === 'correct'),
  silentWrongAnswers: count(cases, (c) => c.outcome === 'wrong' && !c.detected),
  wrongAnswers: count(cases, (c) => c.outcome === 'wrong'),
  refused: count(cases, (c) => c.outcome === 'refused'),
  crashed: count(cases, (c) => c.outcome === 'crashed'),
};
const result = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  startedAt: started.toISOString(),
  totalSeconds: (performance.now() - t0) / 1000,
  model: 'stories260K (CPU, fp32)',
  ...totals,
  tables: [
    {
      title: 'Fault injection through the CLI (stories260K on the CPU; each case asks after the damage)',
      columns: ['target', 'tried', 'detected', 'answered correctly', 'silent wrong answers', 'wrong answers', 'refused', 'crashed'],
      rows,
      notes: [
        'File targets: truncate to half, flip one bit, swap two chunks, zero a block (4 cases each). Detected: the entry was rebuilt, or the damaged file replaced or rewritten; a harmless change (a flipped bit in a stamp file) may go undetected and still answer correctly.',
      ],
    },
  ],
  cases,
};
writeFileSync(join(RESULTS_DIR, 'faults.json'), JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(totals));
