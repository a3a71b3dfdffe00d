// The README and docs/ stay true to the code and to each other: the preset table is what the estimate computes,
// and every relative link and image points at a file of the repository and a heading of that file.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headingAnchors, relativeLinks, resolveLink } from '../support/markdownLinks.ts';
import { presetTable } from '../support/modelTable.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

test("the README's preset table is the one the memory and build-time estimates give", () => {
  assert.ok(
    read('README.md').includes(presetTable()),
    'README.md: "What each preset costs" differs from `node --import tsx test/support/modelTable.ts`; paste its output',
  );
});

test('every relative link and image of the README and docs/ resolves, anchors included', () => {
  const broken: string[] = [];
  for (const page of PAGES) {
    for (const link of relativeLinks(read(page))) {
      const target = resolveLink(page, link);
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${page}: ${link.path} (no such file)`);
        continue;
      }
      if (link.anchor !== undefined && target.endsWith('.md') && !headingAnchors(read(target)).has(link.anchor))
        broken.push(`${page}: ${link.path}#${link.anchor} (no such heading in ${target})`);
    }
  }
  assert.deepEqual(broken, []);
});
