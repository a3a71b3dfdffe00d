// The architecture's seams, checked on the sources: imports between src/ folders point only downward, no
// module imports itself back through a circle, and onnxruntime sessions are created in src/runtime/ alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** A folder may import only folders of a lower rank (and itself). */
const RANK: Record<string, number> = {
  core: 0,
  model: 1,
  context: 1,
  webview: 1,
  graph: 2,
  runtime: 3,
  kvzip: 4,
  cache: 5,
  engine: 6,
  cli: 7,
  extension: 7,
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative imports of every source file, resolved to files (TypeScript's own scanner finds them). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(SRC)) {
    const imported = ts
      .preProcessFile(readFileSync(file, 'utf8'), true, true)
      .importedFiles.map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => resolve(dirname(file), name));
    graph.set(file, imported);
  }
  return graph;
}

const folderOf = (file: string) => relative(SRC, file).split('/')[0];

test('every src/ folder has a rank, and imports point only to lower ranks', () => {
  const graph = importGraph();
  const upward: string[] = [];
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    assert.ok(from in RANK, `src/${from}/ has no rank in this test: give it one`);
    for (const target of imports) {
      const to = folderOf(target);
      if (to !== from && !(RANK[to] < RANK[from])) upward.push(`${relative(ROOT, file)} → ${relative(ROOT, target)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('no import circle between source files', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      circles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(circles, []);
});

test('onnxruntime sessions are created only under src/runtime/', () => {
  const create = ['InferenceSession', 'create('].join('.');
  const self = fileURLToPath(import.meta.url);
  const outside = ['src', 'bench', 'test']
    .flatMap((d) => tsFiles(join(ROOT, d)))
    .filter((f) => f !== self && !f.startsWith(join(SRC, 'runtime')) && readFileSync(f, 'utf8').includes(create))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(outside, []);
});
