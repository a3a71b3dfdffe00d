// Ranking by value: kinds, the import graph (PageRank), pins, outlines for what does not fit whole, the
// refresh-friendly order inside the context, and multi-root workspaces under one budget.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext, contextReport, header, planRefresh } from '../../src/context/index.ts';
import { fileKind } from '../../src/context/kind.ts';
import { rankFiles } from '../../src/context/rank.ts';
import { outlineOf } from '../../src/context/outline.ts';
import { Resolver } from '../../src/context/resolve.ts';
import { loadSyntax } from '../../src/context/syntax.ts';
import { charEncode, commit, gitInit, tempDir, write } from './context-fixtures.ts';

test('kinds: source, tests, docs and examples, configuration and CI', () => {
  const kinds = {
    'src/flask/app.py': 'source',
    'lib/router/index.js': 'source',
    'cmd/tool/main.go': 'source',
    'tests/test_app.py': 'test',
    'src/app.test.ts': 'test',
    'pkg/cache_test.go': 'test',
    'src/test/java/com/x/CounterTest.java': 'test',
    'README.md': 'doc',
    'docs/api.rst': 'doc',
    'doc/guide.txt': 'doc',
    'doc/man_docs.go': 'source',
    'CHANGES.rst': 'doc',
    'examples/hello/app.py': 'example',
    'package.json': 'config',
    'pyproject.toml': 'config',
    'tsconfig.json': 'config',
    '.github/workflows/ci.yml': 'ci',
    '.pre-commit-config.yaml': 'ci',
    Makefile: 'ci',
  } as const;
  for (const [path, kind] of Object.entries(kinds)) assert.equal(fileKind(path), kind, path);
});

test('imports resolve by each language’s rules', () => {
  const r = new Resolver(
    [
      'lib/a.js',
      'lib/b/index.js',
      'src/x.ts',
      'pkg/__init__.py',
      'pkg/app.py',
      'pkg/sub/__init__.py',
      'pkg/sub/util.py',
      'go.mod',
      'internal/store/store.go',
      'internal/store/store_test.go',
      'internal/store/disk.go',
      'src/lib.rs',
      'src/queue.rs',
      'src/net/mod.rs',
      'src/main/java/com/ex/Counter.java',
      'include/buf.h',
      'src/buf.c',
    ],
    { goModules: [{ dir: '', module: 'example.com/kv' }], crates: [] },
  );
  assert.deepEqual(r.resolve(['./a'], 'lib/c.js'), ['lib/a.js']);
  assert.deepEqual(r.resolve(['./b'], 'lib/c.js'), ['lib/b/index.js']);
  assert.deepEqual(r.resolve(['./x.js'], 'src/y.ts'), ['src/x.ts']);
  assert.deepEqual(r.resolve(['express'], 'lib/c.js'), []);
  assert.deepEqual(r.resolve(['pkg.Flask', 'pkg'], 'tests/test_app.py'), ['pkg/__init__.py']);
  assert.deepEqual(r.resolve(['.sub.util.helper', '.sub.util'], 'pkg/app.py'), ['pkg/sub/util.py']);
  assert.deepEqual(r.resolve(['..app'], 'pkg/sub/util.py'), ['pkg/app.py']);
  assert.deepEqual(r.resolve(['pkg.sub.util'], 'main.py'), ['pkg/sub/util.py']);
  assert.deepEqual(r.resolve(['json'], 'pkg/app.py'), []);
  assert.deepEqual(r.resolve(['example.com/kv/internal/store'], 'main.go').sort(), ['internal/store/disk.go', 'internal/store/store.go']);
  assert.deepEqual(r.resolve(['mod:queue'], 'src/lib.rs'), ['src/queue.rs']);
  assert.deepEqual(r.resolve(['crate::net::Conn', 'crate::net'], 'src/queue.rs'), ['src/net/mod.rs']);
  assert.deepEqual(r.resolve(['com.ex.Counter', 'com.ex'], 'src/main/java/com/ex/App.java'), ['src/main/java/com/ex/Counter.java']);
  assert.deepEqual(r.resolve(['buf.h'], 'src/buf.c'), ['include/buf.h']);
  assert.deepEqual(r.resolve(['<buf.h'], 'src/buf.c'), ['include/buf.h']);
  assert.deepEqual(r.resolve(['<stdio.h'], 'src/buf.c'), []);
});

test('PageRank: a file many import ranks first among its kind; pins rank before everything', () => {
  const paths = ['src/core.ts', 'src/a.ts', 'src/b.ts', 'src/c.ts', 'src/leaf.ts', 'test/a.test.ts', 'README.md'];
  const edges = new Map([
    [1, [0]],
    [2, [0, 1]],
    [3, [0]],
    [5, [0, 1]],
  ]);
  const ranked = rankFiles({ paths, edges });
  assert.deepEqual(
    ranked.map((r) => r.path),
    ['src/core.ts', 'src/a.ts', 'src/b.ts', 'src/c.ts', 'src/leaf.ts', 'test/a.test.ts', 'README.md'],
  );
  assert.equal(ranked[0]!.importedBy, 4);
  const pinned = rankFiles({ paths, edges, pinned: ['README.md'] });
  assert.deepEqual([pinned[0]!.path, pinned[0]!.pinned, pinned[1]!.path], ['README.md', true, 'src/core.ts']);
});

/** A JavaScript project: lib/core.js is large and imported by everything; docs, tests and CI around it. */
function project(root: string): void {
  const fn = (name: string, lines: number): string =>
    `/** ${name} does its part. */\nfunction ${name}(x) {\n${'  x = x + 1;\n'.repeat(lines)}  return x;\n}\n`;
  write(root, {
    'lib/core.js': `const util = require('./util');\n${['start', 'stop', 'route', 'listen', 'render'].map((n) => fn(n, 40)).join('\n')}module.exports = { start };\n`,
    'lib/util.js': `${fn('clamp', 3)}module.exports = { clamp };\n`,
    'lib/router.js': `const core = require('./core');\n${fn('match', 5)}`,
    'lib/view.js': `const core = require('./core');\nconst util = require('./util');\n${fn('show', 5)}`,
    'index.js': `module.exports = require('./lib/core');\n`,
    'test/core.test.js': `const core = require('../lib/core');\n${fn('check', 30)}`,
    'docs/guide.md': '# Guide\n' + 'Some words about the project.\n'.repeat(30),
    'examples/hello.js': `const core = require('../lib/core');\n${fn('hello', 20)}`,
    '.github/workflows/ci.yml': 'on: push\njobs: {}\n',
  });
}

test('a large central file that does not fit whole goes in as a marked outline, ahead of everything ranked lower', async (t) => {
  const root = tempDir(t);
  project(root);
  const all = await buildContext(root, { encode: charEncode });
  const core = all.files.find((f) => f.path === 'lib/core.js')!;
  assert.equal(core.rank, 1);
  const coreTokens = core.tokenEnd - core.tokenStart;
  // Room for every source file but core whole: core goes in as an outline, the tests and docs give way.
  const sources = all.files.filter((f) => f.kind === 'source').reduce((n, f) => n + f.tokenEnd - f.tokenStart, 0);
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: sources - Math.floor(coreTokens / 2) });
  const report = contextReport(ctx);
  const coreIn = report.included.find((f) => f.path === 'lib/core.js')!;
  assert.equal(coreIn.outline, true);
  const seg = ctx.files.find((f) => f.path === 'lib/core.js')!;
  const text = ctx.text.slice(seg.charStart, seg.charEnd);
  assert.ok(text.startsWith(header('lib/core.js', true)) && text.includes('(outline: function bodies left out)'));
  assert.ok(text.includes('function route(x) { … }') && text.includes('/** route does its part. */') && !text.includes('x = x + 1'));
  // No file is out while a lower-ranked one is in, but for a file with no outline too big for the budget.
  const lost = ctx.omitted.filter((o) => o.reason === 'budget');
  assert.deepEqual(
    lost.filter((o) => o.detail!.includes('no outline, and over 25% of the budget')).map((o) => o.path),
    ['docs/guide.md'],
  );
  const lowestOut = Math.min(...lost.filter((o) => !o.detail!.includes('no outline')).map((o) => o.rank!));
  for (const f of ctx.files) assert.ok(f.rank < lowestOut, `${f.path} (rank ${f.rank}) is in, but rank ${lowestOut} is out`);
  for (const o of ctx.omitted.filter((x) => x.reason === 'budget'))
    assert.match(o.detail!, /^rank \d+ of \d+ \((source|test|doc|example|config|ci)\)/);
});

test('when central outlines do not all fit, each goes in as its signatures first, and docstrings come back as room allows', async (t) => {
  const root = tempDir(t);
  const q = '"""';
  // Two modules every other file imports, each with long docstrings and comments, then three small users.
  const module = (name: string): string =>
    [
      `${q}The ${name} module.`,
      '',
      `${'A long description of what it does. '.repeat(20)}`,
      q,
      'import json',
      '',
      '',
      `class ${name.toUpperCase()}:`,
      `    ${q}The ${name} class.${' More words.'.repeat(30)}${q}`,
      '',
      '    # a comment the signatures leave out',
      ...Array.from({ length: 6 }, (_, i) => [
        `    def op${i}(self, value):`,
        `        ${q}Does op${i}.${' Details.'.repeat(20)}${q}`,
        `        value = value + ${i}`,
        '        return value',
        '',
      ]).flat(),
    ].join('\n');
  const files: Record<string, string> = { 'pkg/core.py': module('core'), 'pkg/util.py': module('util') };
  for (const n of ['a', 'b', 'c']) files[`pkg/${n}.py`] = `from .core import CORE\nfrom .util import UTIL\n\n${n.toUpperCase()} = 1\n`;
  write(root, files);
  const all = await buildContext(root, { encode: charEncode });
  const rankOf = (p: string) => all.files.find((f) => f.path === p)!.rank;
  assert.ok(rankOf('pkg/core.py') <= 2 && rankOf('pkg/util.py') <= 2);

  const segment = (ctx: Awaited<ReturnType<typeof buildContext>>, p: string): string => {
    const f = ctx.files.find((x) => x.path === p);
    assert.ok(f, `${p} is in`);
    return ctx.text.slice(f.charStart, f.charEnd);
  };
  // Room for both modules' signatures but not both outlines.
  const small = await buildContext(root, { encode: charEncode, maxTokens: 1500 });
  const coreSig = segment(small, 'pkg/core.py');
  const utilSig = segment(small, 'pkg/util.py');
  assert.ok(coreSig.startsWith(header('pkg/core.py', 'signatures')), coreSig.slice(0, 120));
  assert.ok(coreSig.includes('def op5(self, value):') && coreSig.includes('class CORE:'));
  assert.ok(!coreSig.includes('Does op') && !coreSig.includes('a comment') && !coreSig.includes('The core module'));
  for (const n of ['a', 'b', 'c'])
    assert.ok(
      small.files.some((f) => f.path === `pkg/${n}.py`),
      `pkg/${n}.py is in`,
    );

  const users = 3 * (header('pkg/a.py').length + files['pkg/a.py']!.length);
  const outlineSize = header('pkg/core.py', 'outline').length + outlineOf(await loadSyntax(), 'pkg/core.py', files['pkg/core.py']!)!.length;
  const between = users + coreSig.length + utilSig.length + (outlineSize - coreSig.length) + 10;
  const mid = await buildContext(root, { encode: charEncode, maxTokens: between });
  const first = all.files.find((f) => f.rank === 1)!.path;
  const second = all.files.find((f) => f.rank === 2)!.path;
  // The higher-ranked module gets its docstrings back; the other keeps its signatures; no file is left out.
  assert.ok(segment(mid, first).startsWith(header(first, 'outline')) && segment(mid, first).includes('Does op5.'));
  assert.ok(segment(mid, second).startsWith(header(second, 'signatures')));
  assert.equal(mid.omitted.filter((o) => o.reason === 'budget').length, 0);
  // The same bytes at another level render differently: a refresh must prefill the file again.
  const plan = planRefresh(small.fingerprint, mid);
  assert.ok(!plan.upToDate && plan.changed.includes(first), JSON.stringify(plan.changed));
});
test('at every budget: sources before tests before docs; no source out while a doc, example, test or CI file is in whole', async (t) => {
  const root = tempDir(t);
  project(root);
  const all = await buildContext(root, { encode: charEncode });
  const tier = { source: 0, test: 1, doc: 2, example: 2, config: 3, ci: 3 } as const;
  for (let share = 0.05; share <= 1; share += 0.05) {
    const ctx = await buildContext(root, { encode: charEncode, maxTokens: Math.floor(all.totalTokens * share) });
    const outSource = ctx.omitted.filter((o) => o.reason === 'budget' && o.kind === 'source');
    const wholeNonSource = ctx.files.filter((f) => f.kind !== 'source' && !f.outline);
    assert.ok(
      outSource.length === 0 || wholeNonSource.length === 0,
      `share ${share.toFixed(2)}: ${outSource[0]?.path} out, ${wholeNonSource[0]?.path} in`,
    );
    const maxIn = Math.max(-1, ...ctx.files.map((f) => tier[f.kind]));
    const minOut = Math.min(9, ...ctx.omitted.filter((o) => o.reason === 'budget').map((o) => tier[o.kind!]));
    assert.ok(maxIn <= minOut, `share ${share.toFixed(2)}`);
    if (ctx.files.length > 0)
      assert.ok(
        ctx.files.some((f) => f.path === 'lib/core.js'),
        `share ${share.toFixed(2)}: core is in`,
      );
  }
});

test('inside the context the order stays the refresh-friendly one: the file changed most goes last', async (t) => {
  const root = tempDir(t);
  project(root);
  gitInit(root);
  commit(root, 1);
  for (let i = 2; i < 6; i++) {
    write(root, { 'lib/core.js': `// v${i}\n${'x;\n'.repeat(10)}` });
    commit(root, i, ['lib/core.js']);
  }
  const ctx = await buildContext(root, { encode: charEncode });
  assert.equal(ctx.files.at(-1)!.path, 'lib/core.js');
  assert.ok(ctx.files.at(-1)!.rank > 0);
});

test('a file switching between outline and whole is a change for refresh', async (t) => {
  const root = tempDir(t);
  project(root);
  const whole = await buildContext(root, { encode: charEncode });
  const core = whole.files.find((f) => f.path === 'lib/core.js')!;
  const sources = whole.files.filter((f) => f.kind === 'source').reduce((n, f) => n + f.tokenEnd - f.tokenStart, 0);
  const tight = await buildContext(root, { encode: charEncode, maxTokens: sources - Math.floor((core.tokenEnd - core.tokenStart) / 2) });
  const plan = planRefresh(whole.fingerprint, tight);
  assert.ok(plan.changed.includes('lib/core.js'));
  assert.ok(!plan.upToDate);
});

test('multi-root: every folder goes in, each path prefixed with its folder name, under one budget', async (t) => {
  const a = tempDir(t);
  const b = tempDir(t);
  project(a);
  write(b, { 'main.py': 'from helpers import greet\n\ngreet()\n', 'helpers.py': 'def greet():\n    print("hi")\n' });
  const one = await buildContext(a, { encode: charEncode });
  const ctx = await buildContext(
    [
      { name: 'web', path: a },
      { name: 'tools', path: b },
    ],
    { encode: charEncode },
  );
  assert.equal(ctx.stats.roots, 2);
  assert.ok(ctx.files.every((f) => f.path.startsWith('web/') || f.path.startsWith('tools/')));
  assert.ok(ctx.files.some((f) => f.path === 'tools/helpers.py') && ctx.files.some((f) => f.path === 'web/lib/core.js'));
  assert.ok(ctx.text.includes(header('tools/main.py')));
  // Imports resolve inside each folder: helpers.py is imported, core.js still ranks first of all.
  assert.equal(ctx.files.find((f) => f.path === 'web/lib/core.js')!.rank, 1);
  const budget = Math.floor(one.totalTokens * 0.6);
  const tight = await buildContext(
    [
      { name: 'web', path: a },
      { name: 'tools', path: b },
    ],
    { encode: charEncode, maxTokens: budget },
  );
  assert.ok(tight.totalTokens <= budget);
  await assert.rejects(
    buildContext(
      [
        { name: 'x', path: a },
        { name: 'x', path: b },
      ],
      { encode: charEncode },
    ),
    /names must be unique/,
  );
});
