// Bundles the extension-host suite to CommonJS, which the extension host loads with require.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './codeServer.ts';

export async function bundleSuite(): Promise<string> {
  const out = path.join(ROOT, 'test/.tmp/vscode/index.cjs');
  mkdirSync(path.dirname(out), { recursive: true });
  await build({
    entryPoints: [path.join(ROOT, 'test/vscode/suite/index.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  });
  return out;
}
