// Bad input: no crash, no hang, and a report entry for each thing that went wrong. Tests run as root, so
// "unreadable" is produced with FIFOs, dangling links and files swapped or deleted between listing and reading
// (the progress callback runs between the stat and read phases, which makes those races deterministic).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildContext, type BuiltContext, type Progress } from '../../src/context/index.ts';
import { readStable } from '../../src/context/read.ts';
import { charEncode, commit, gitInit, tempDir, write } from './context-fixtures.ts';

const omission = (ctx: BuiltContext, path: string) => ctx.omitted.find((o) => o.path === path);

for (const mode of ['git', 'walk'] as const) {
  test(`${mode}: symlink loops, dangling and escaping links, FIFOs are reported, never followed`, async (t) => {
    const root = tempDir(t);
    write(root, { 'a/real.ts': 'real\n' });
    symlinkSync('.', join(root, 'loop'));
    symlinkSync('../a', join(root, 'a/up'));
    symlinkSync('nowhere', join(root, 'dangling'));
    symlinkSync('/etc/hostname', join(root, 'escape'));
    execFileSync('mkfifo', [join(root, 'pipe')]);
    if (mode === 'git') {
      gitInit(root);
      commit(root, 1, ['a/real.ts', 'loop', 'a/up', 'dangling', 'escape']);
    }
    const ctx = await buildContext(root, { encode: charEncode, discovery: mode });
    assert.deepEqual(
      ctx.files.map((f) => f.path),
      ['a/real.ts'],
    );
    for (const p of ['loop', 'a/up', 'dangling', 'escape']) assert.equal(omission(ctx, p)?.reason, 'symlink', p);
    assert.match(omission(ctx, 'escape')!.detail!, /links to \/etc\/hostname/);
    // git does not list a FIFO; the walk sees it and reports it.
    if (mode === 'walk') assert.equal(omission(ctx, 'pipe')?.reason, 'not-a-file');
  });
}

test('files deleted, swapped for a FIFO or a link, or grown past the cap between listing and reading', async (t) => {
  const root = tempDir(t);
  write(root, { 'keep.ts': 'k\n', 'gone.ts': 'g\n', 'fifo.ts': 'f\n', 'link.ts': 'l\n', 'grow.ts': 'small\n' });
  const ctx = await buildContext(root, {
    encode: charEncode,
    maxFileBytes: 1000,
    onProgress: (p: Progress) => {
      if (p.phase !== 'stat') return;
      rmSync(join(root, 'gone.ts'));
      rmSync(join(root, 'fifo.ts'));
      execFileSync('mkfifo', [join(root, 'fifo.ts')]);
      rmSync(join(root, 'link.ts'));
      symlinkSync('keep.ts', join(root, 'link.ts'));
      writeFileSync(join(root, 'grow.ts'), 'x'.repeat(5000));
    },
  });
  assert.deepEqual(
    ctx.files.map((f) => f.path),
    ['keep.ts'],
  );
  assert.deepEqual(omission(ctx, 'gone.ts'), { path: 'gone.ts', reason: 'unreadable', detail: 'vanished before it was read' });
  assert.equal(omission(ctx, 'fifo.ts')?.reason, 'not-a-file');
  assert.equal(omission(ctx, 'link.ts')?.reason, 'symlink');
  assert.equal(omission(ctx, 'grow.ts')?.reason, 'too-large');
});

test('a tracked file missing from the work tree is reported', async (t) => {
  const root = tempDir(t);
  gitInit(root);
  write(root, { 'a.ts': 'a', 'b.ts': 'b' });
  commit(root, 1);
  rmSync(join(root, 'b.ts'));
  const ctx = await buildContext(root, { encode: charEncode });
  assert.equal(omission(ctx, 'b.ts')?.reason, 'unreadable');
});

test(
  'a file that keeps changing while read is reported as changed, not half-read',
  { skip: !existsSync('/proc/self/status') },
  async () => {
    // /proc files report size 0 and then yield bytes: the size check after the read never agrees.
    const r = await readStable('/proc/self/status', 1 << 20);
    assert.deepEqual(r.ok ? 'ok' : [r.reason, r.detail], ['changed', 'still changing after 3 reads']);
  },
);

test('a file appended to concurrently is either read whole at one instant or reported as changed', async (t) => {
  const root = tempDir(t);
  const file = join(root, 'log.txt');
  writeFileSync(file, 'start\n');
  const writer = execFileSync(
    'sh',
    ['-c', `(i=0; while [ $i -lt 3000 ]; do echo line$i >> '${file}'; i=$((i+1)); done) >/dev/null 2>&1 & echo $!`],
    { encoding: 'utf8' },
  );
  try {
    for (let i = 0; i < 20; i++) {
      const r = await readStable(file, 1 << 20);
      if (r.ok) assert.match(r.bytes.toString(), /^start\n(line\d+\n)*$/);
      else assert.equal(r.reason, 'changed');
    }
  } finally {
    try {
      process.kill(Number(writer.trim()));
    } catch {
      // Already finished.
    }
  }
});

test('invalid UTF-8 inside a text file: included, replaced, noted; hash is over the raw bytes', async (t) => {
  const root = tempDir(t);
  const bytes = Buffer.concat([Buffer.from('ok line\n'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(' tail\n'.repeat(20))]);
  write(root, { 'mixed.txt': bytes });
  const ctx = await buildContext(root, { encode: charEncode });
  const f = ctx.files[0]!;
  assert.match(f.note!, /invalid UTF-8/);
  assert.ok(ctx.text.includes('\ufffd(\ufffd tail'));
  const { createHash } = await import('node:crypto');
  assert.equal(f.hash, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(f.bytes, bytes.length);
});

for (const mode of ['git', 'walk'] as const) {
  test(`${mode}: the file cap stops scanning and says so`, async (t) => {
    const root = tempDir(t);
    write(root, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${String(i).padStart(2, '0')}.ts`, `${i}\n`])));
    if (mode === 'git') gitInit(root);
    const ctx = await buildContext(root, { encode: charEncode, maxFiles: 10, discovery: mode });
    assert.equal(ctx.stats.scanned, 10);
    assert.equal(ctx.files.length, 10);
    const cap = omission(ctx, '')!;
    assert.equal(cap.reason, 'file-limit');
    assert.match(cap.detail!, /stopped at 10 files/);
  });
}

test('cancellation: an aborted signal rejects with AbortError, before or during the build', async (t) => {
  const root = tempDir(t);
  write(root, { 'a.ts': 'a', 'b/c.ts': 'c' });
  await assert.rejects(buildContext(root, { encode: charEncode, signal: AbortSignal.abort() }), { name: 'AbortError' });
  const ac = new AbortController();
  await assert.rejects(buildContext(root, { encode: charEncode, signal: ac.signal, onProgress: (p) => p.phase === 'stat' && ac.abort() }), {
    name: 'AbortError',
  });
});

test('progress reports every phase in order', async (t) => {
  const root = tempDir(t);
  write(root, { 'a.ts': 'a', 'b.ts': 'b' });
  const phases: string[] = [];
  await buildContext(root, { encode: charEncode, onProgress: (p) => phases.at(-1) !== p.phase && phases.push(p.phase) });
  assert.deepEqual(phases, ['discover', 'stat', 'order', 'rank', 'read', 'render']);
});

test('discovery: git on a folder outside any repository is an error; the walk never lists .git', async (t) => {
  const root = tempDir(t);
  write(root, { 'a.ts': 'a' });
  await assert.rejects(buildContext(root, { encode: charEncode, discovery: 'git' }), /not inside a git work tree/);
  mkdirSync(join(root, '.git'));
  write(root, { '.git/config': 'x' });
  const ctx = await buildContext(root, { encode: charEncode, discovery: 'walk', defaultExcludes: false });
  assert.deepEqual(
    ctx.files.map((f) => f.path),
    ['a.ts'],
  );
});
