// Outlines and imports with tree-sitter, one known file per language (test/fixtures/outline): the outline
// keeps imports, declarations, signatures, comments and docstrings, and leaves out multi-line function bodies.
// Each expected outline is the fixture's `.outline` file, read and checked by hand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { importsOf } from '../../src/context/imports.ts';
import { outlineOf } from '../../src/context/outline.ts';
import { languageOf, loadSyntax } from '../../src/context/syntax.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'outline');

const CASES: { language: string; file: string; imports: string[][] }[] = [
  { language: 'TypeScript', file: 'shapes.ts', imports: [['node:fs'], ['./point.ts']] },
  { language: 'JavaScript', file: 'server.js', imports: [['http'], ['./router']] },
  { language: 'Python', file: 'store.py', imports: [['json'], ['.errors.StoreError', '.errors']] },
  { language: 'Go', file: 'cache.go', imports: [['sync'], ['example.com/kv/internal/clock']] },
  {
    language: 'Rust',
    file: 'queue.rs',
    imports: [
      ['std::collections::VecDeque', 'std::collections'],
      ['crate::error::Error', 'crate::error'],
    ],
  },
  {
    language: 'Java',
    file: 'Counter.java',
    imports: [
      ['java.util.HashMap', 'java.util'],
      ['java.util.Map', 'java.util'],
    ],
  },
  { language: 'C', file: 'buffer.c', imports: [['<stdlib.h'], ['buffer.h']] },
  { language: 'C++', file: 'matrix.cpp', imports: [['<vector'], ['matrix.hpp']] },
];

for (const c of CASES) {
  test(`${c.language}: the outline of ${c.file} and its imports`, async () => {
    const syntax = await loadSyntax();
    const text = readFileSync(join(FIXTURES, c.file), 'utf8');
    const outline = outlineOf(syntax, c.file, text);
    assert.equal(outline, readFileSync(join(FIXTURES, `${c.file}.outline`), 'utf8'));
    assert.ok(outline!.length < text.length * 0.85);
    assert.deepEqual(importsOf(syntax, c.file, text), c.imports);
  });
}

test('files in no supported language have no outline and no imports (they go in as plain text)', async () => {
  const syntax = await loadSyntax();
  for (const f of ['notes.md', 'Makefile', 'style.css', 'main.rb']) {
    assert.equal(languageOf(f), undefined);
    assert.equal(outlineOf(syntax, f, 'def x\n  1\nend\n'), undefined);
    assert.equal(importsOf(syntax, f, 'import x'), undefined);
  }
});

test('one-line bodies stay; a file with nothing to leave out has no outline', async () => {
  const syntax = await loadSyntax();
  assert.equal(outlineOf(syntax, 'a.ts', 'export const f = (x: number) => x + 1;\nfunction g() { return 2; }\n'), undefined);
});

test('offsets are UTF-16: text after non-ASCII characters is cut at the right place', async () => {
  const syntax = await loadSyntax();
  const body = '  const s = "ünïcode 😀";\n'.repeat(6);
  const text = `// héllo wörld 😀\nexport function f(): string {\n${body}  return s;\n}\nexport const after = "ß";\n`;
  assert.equal(outlineOf(syntax, 'u.ts', text), '// héllo wörld 😀\nexport function f(): string { … }\nexport const after = "ß";\n');
});

test('Python: a long docstring keeps its first paragraph in the outline', async () => {
  const syntax = await loadSyntax();
  const q = '"""';
  const text = [
    `${q}Templates.`,
    '',
    'A long module description',
    'over several lines.',
    q,
    '',
    '',
    'class Env:',
    `    ${q}The environment.`,
    '',
    '    Many details about it.',
    `    ${q}`,
    '',
    '    def render(self, name):',
    `        ${q}Renders a template.`,
    '',
    '        :param name: its name',
    `        ${q}`,
    '        t = self.load(name)',
    '        return t.render()',
    '',
  ].join('\n');
  const expected = [
    `${q}Templates.`,
    '…',
    q,
    '',
    '',
    'class Env:',
    `    ${q}The environment.`,
    '    …',
    `    ${q}`,
    '',
    '    def render(self, name):',
    `        ${q}Renders a template.`,
    '        …',
    `        ${q}`,
    '        ...',
    '',
  ].join('\n');
  assert.equal(outlineOf(syntax, 'env.py', text), expected);
  // The signatures level keeps the declarations only: docstrings and comments go, with their lines.
  const commented = text.replace('class Env:', '# The environment class.\nclass Env:');
  assert.equal(
    outlineOf(syntax, 'env.py', commented, 'signatures'),
    ['', '', 'class Env:', '', '    def render(self, name):', '        ...', ''].join('\n'),
  );
});

test('TypeScript: the signatures level leaves out comments, and keeps declarations and signatures', async () => {
  const syntax = await loadSyntax();
  const text = [
    '// The point type.',
    'export interface Point {',
    '  /** Across. */',
    '  x: number;',
    '}',
    'export function norm(p: Point): number { // the length',
    '  const s = p.x * p.x;',
    '  return Math.sqrt(s);',
    '}',
    '',
  ].join('\n');
  const expected = ['export interface Point {', '  x: number;', '}', 'export function norm(p: Point): number { … }', ''].join('\n');
  assert.equal(outlineOf(syntax, 'p.ts', text, 'signatures'), expected);
});
