// `npm run package` builds the .vsix; its file list must hold the bundles and the runtime only.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from '../vscode/codeServer.ts';

test('the .vsix leaves out tests, sources and dev files', { timeout: 180_000 }, () => {
  execFileSync('npm', ['run', 'package'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const vsix = path.join(ROOT, 'dist/kvzip-code-linux-x64.vsix');
  // The names themselves, one per line: `zipfile -l` pads columns with as little as one space after a long name.
  const listing = execFileSync('python3', [
    '-c',
    'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))',
    vsix,
  ]).toString();
  const files = listing
    .split('\n')
    .filter((f) => f.startsWith('extension/') && !f.endsWith('/'))
    .map((f) => f.slice('extension/'.length));
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
    /^(package\.json|readme\.md|changelog\.md|license(\.txt|\.md)?|dist\/[\w.-]+\.(c?js)|dist\/tree-sitter\/tree-sitter[\w-]*\.(cjs|wasm)|media\/[\w.-]+\.(svg|css|png)|media\/walkthrough\/[\w-]+\.md|node_modules\/onnxruntime-(node|common)\/.+|node_modules\/webgpu\/(package\.json|index\.js|dist\/linux-x64\/.+))$/i;
  const unexpected = files.filter((f) => !allowed.test(f));
  assert.deepEqual(
    unexpected,
    [],
    'only bundles, media, the onnxruntime runtime, the WebGPU adapter probe and the tree-sitter parser are packaged',
  );
  const dev = files.filter(
    (f) =>
      /(^|\/)(src|test|bench|native|\.ci)\//.test(f.replace(/^node_modules\/[^/]+\//, '')) ||
      /\.(ts|map)$/.test(f.replace(/\.d\.ts$/, '')) ||
      /tsconfig|esbuild\.mjs|package-lock/.test(f),
  );
  assert.deepEqual(dev, [], 'no sources, tests, source maps or build files');
  assert.ok(!files.some((f) => f.endsWith('.vsix')), 'no earlier package inside');
});
