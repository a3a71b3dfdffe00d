// Bundles the CLI, the engine process and (when present) the extension and webview.
// onnxruntime-node stays external: it ships native binaries that must be loaded from node_modules.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external: ['onnxruntime-node', 'vscode'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};

const entries = [
  { in: 'src/cli/main.ts', out: 'dist/cli.js', banner: '#!/usr/bin/env node' },
  { in: 'src/engine/process.ts', out: 'dist/engine.js' },
  // A CPU answering session's thread (src/runtime/threadSession.ts loads it from next to the engine bundle).
  { in: 'src/runtime/sessionThread.ts', out: 'dist/sessionThread.js' },
];

const extensionBuilds = [
  // VS Code loads extensions with require(), so the extension is CommonJS; vscode is provided by the host.
  existsSync('src/extension/extension.ts') &&
    // import.meta.url is the bundle's own URL there too (the context builder finds its grammars next to it).
    build({
      ...common,
      entryPoints: ['src/extension/extension.ts'],
      outfile: 'dist/extension.cjs',
      format: 'cjs',
      define: { 'import.meta.url': '__bundleUrl' },
      banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    }),
  // The sidebar script runs in the webview: a browser bundle with markdown-it, DOMPurify and highlight.js inside.
  existsSync('src/webview/main.ts') &&
    build({
      ...common,
      entryPoints: ['src/webview/main.ts'],
      outfile: 'dist/webview.js',
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      external: [],
      banner: {},
      minify: true,
      sourcemap: false,
    }),
];

await Promise.all([
  ...entries
    .filter((e) => existsSync(e.in))
    .map((e) =>
      build({
        ...common,
        entryPoints: [e.in],
        outfile: e.out,
        banner: { js: `${e.banner ? e.banner + '\n' : ''}${common.banner.js}` },
      }),
    ),
  ...extensionBuilds.filter(Boolean),
]);

// tree-sitter's runtime and the grammars the context builder parses with (src/context/syntax.ts LANGUAGES) ship
// as files next to the bundles: the runtime loads them at run time, so they cannot be bundled. Its script is
// CommonJS, hence .cjs under this package's "type": "module".
const wasm = join(dirname(createRequire(import.meta.url).resolve('@vscode/tree-sitter-wasm/package.json')), 'wasm');
mkdirSync('dist/tree-sitter', { recursive: true });
copyFileSync(join(wasm, 'tree-sitter.js'), 'dist/tree-sitter/tree-sitter.cjs');
for (const file of [
  'tree-sitter.wasm',
  ...['typescript', 'tsx', 'javascript', 'python', 'go', 'rust', 'java', 'cpp'].map((l) => `tree-sitter-${l}.wasm`),
]) {
  copyFileSync(join(wasm, file), join('dist/tree-sitter', file));
}
