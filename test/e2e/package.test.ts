// `npm run package` builds the .vsix; its file list must hold the bundles and the runtime only, and its README (the
// extension's page) must show what it links: the docs, the screenshots and the icon, all inside the package.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { relativeLinks, resolveLink } from '../support/markdownLinks.ts';
import { ROOT } from '../vscode/codeServer.ts';

const vsix = path.join(ROOT, 'dist/kvzip-code-linux-x64.vsix');
/** The package's files, relative to its extension/ folder (the installed extension's root). */
let files: string[] = [];

/** One file of the package, read with Python's zipfile (as the listing is). */
function entry(name: string): Buffer {
  return execFileSync(
    'python3',
    ['-c', 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))', vsix, name],
    { maxBuffer: 64 * 2 ** 20 },
  );
}

before(
  () => {
    execFileSync('npm', ['run', 'package'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    // The names themselves, one per line: `zipfile -l` pads columns with as little as one space after a long name.
    const listing = execFileSync('python3', [
      '-c',
      'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))',
      vsix,
    ]).toString();
    files = listing
      .split('\n')
      .filter((f) => f.startsWith('extension/') && !f.endsWith('/'))
      .map((f) => f.slice('extension/'.length));
  },
  { timeout: 180_000 },
);

test('the .vsix leaves out tests, sources and dev files', () => {
  // The walkthrough's pages (package.json contributes.walkthroughs) are read from the package.
  const walkthrough = ['model', 'context', 'build', 'ask'].map((p) => `media/walkthrough/${p}.md`);
  for (const must of [
    'package.json',
    'dist/extension.cjs',
    'dist/webview.js',
    'dist/engine.js',
    'media/sidebar.css',
    'media/icon.svg',
    ...walkthrough,
  ]) {
    assert.ok(files.includes(must), `${must} is packaged`);
  }
  assert.ok(
    files.some((f) => f.startsWith('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/')),
    'the onnxruntime binding is packaged',
  );
  // The context builder's parser: tree-sitter's runtime and one grammar per supported language.
  for (const l of ['typescript', 'tsx', 'javascript', 'python', 'go', 'rust', 'java', 'cpp']) {
    assert.ok(files.includes(`dist/tree-sitter/tree-sitter-${l}.wasm`), `the ${l} grammar is packaged`);
  }
  assert.ok(
    files.includes('dist/tree-sitter/tree-sitter.wasm') && files.includes('dist/tree-sitter/tree-sitter.cjs'),
    'the tree-sitter runtime is packaged',
  );
  const allowed =
    /^(package\.json|readme\.md|changelog\.md|license(\.txt|\.md)?|dist\/[\w.-]+\.(c?js)|dist\/tree-sitter\/tree-sitter[\w-]*\.(cjs|wasm)|media\/[\w.-]+\.(svg|css|png)|media\/walkthrough\/[\w-]+\.md|docs\/[\w-]+\.md|bench\/results\/(screenshots\/)?[\w.-]+\.(png|svg)|node_modules\/onnxruntime-(node|common)\/.+|node_modules\/webgpu\/(package\.json|index\.js|dist\/linux-x64\/.+))$/i;
  const unexpected = files.filter((f) => !allowed.test(f));
  assert.deepEqual(
    unexpected,
    [],
    'only bundles, media, the docs and their images, the onnxruntime runtime, the WebGPU adapter probe and the tree-sitter parser are packaged',
  );
  // The pages' images lie under bench/results/ (the next test checks each is one a page shows).
  const pageImage = /^bench\/results\/(screenshots\/)?[\w.-]+\.(png|svg)$/;
  const dev = files.filter(
    (f) =>
      !pageImage.test(f) &&
      (/(^|\/)(src|test|bench|native|\.ci)\//.test(f.replace(/^node_modules\/[^/]+\//, '')) ||
        /\.(ts|map)$/.test(f.replace(/\.d\.ts$/, '')) ||
        /tsconfig|esbuild\.mjs|package-lock/.test(f)),
  );
  assert.deepEqual(dev, [], 'no sources, tests, source maps or build files');
  assert.ok(!files.some((f) => f.endsWith('.vsix')), 'no earlier package inside');
});

test("the packaged README's links and images, and those of the pages it links, resolve inside the package", () => {
  // vsce stores README.md as readme.md at the package's root; the installed extension's page reads it from there.
  assert.ok(files.includes('readme.md'), 'the README is packaged');
  const pages = ['readme.md'];
  const broken: string[] = [];
  const shown = new Set<string>();
  for (let i = 0; i < pages.length; i++) {
    const page = pages[i]!;
    for (const link of relativeLinks(entry(`extension/${page}`).toString('utf8'))) {
      const target = resolveLink(page, link);
      if (!files.includes(target)) broken.push(`${page}: ${link.path}`);
      else if (target.endsWith('.md') && !pages.includes(target)) pages.push(target);
      if (link.image) shown.add(target);
    }
  }
  assert.deepEqual(broken, [], 'every relative link and image target is in the package');
  assert.ok(pages.length > 1 && shown.size > 0, `the README links docs and shows images (${pages.join(', ')})`);
  // Only the images a page shows are packaged: bench/ holds many more.
  assert.deepEqual(
    files.filter((f) => f.startsWith('bench/') && !shown.has(f)),
    [],
    'every packaged image is one a packaged page shows',
  );
});

test('the icon named in package.json is a packaged PNG of 128 to 512 pixels a side', () => {
  const icon = (JSON.parse(entry('extension/package.json').toString('utf8')) as { icon?: string }).icon;
  assert.ok(icon, 'package.json names an icon');
  assert.ok(files.includes(icon), `${icon} is packaged`);
  const png = entry(`extension/${icon}`);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${icon} is a PNG`);
  // IHDR, the first chunk: width and height, big-endian, at bytes 16 and 20.
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  assert.ok(width === height && width >= 128 && width <= 512, `${icon} is square, 128 to 512 pixels a side: ${width}×${height}`);
  assert.ok(png.length < 100 * 1024, `${icon} is small: ${png.length} bytes`);
  // The Marketplace and the extensions view find the icon through the manifest.
  assert.match(entry('extension.vsixmanifest').toString('utf8'), new RegExp(`<Icon>extension/${icon.replace(/\./g, '\\.')}</Icon>`));
});
