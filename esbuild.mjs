// Bundles the CLI, the engine process and (when present) the extension and webview.
// onnxruntime-node stays external: it ships native binaries that must be loaded from node_modules.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

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
];

const extensionBuilds = [
  // VS Code loads extensions with require(), so the extension is CommonJS; vscode is provided by the host.
  existsSync('src/extension/extension.ts') &&
    build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.cjs', format: 'cjs', banner: {} }),
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
