// `npm run test:vscode`: runs the extension-host suite inside code-server. The workbench calls
// window.codeAutomationExit(code) when the suite ends; we expose it before loading the page.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, launchBrowser, startCodeServer, workbenchUrl, MODEL } from './codeServer.ts';
import { bundleSuite } from './bundle.ts';

const TIMEOUT_MS = 10 * 60_000;

/** One extension-host run in its own code-server: the main suite on the story folder, or the multi-root one. */
async function runSuite(suite: string, name: 'main' | 'multiroot'): Promise<number> {
  const started = Date.now();
  const logFile = path.join(ROOT, `test/.tmp/vscode/results-${name}.log`);
  rmSync(logFile, { force: true });
  const cs = await startCodeServer({ env: { KVZIP_TEST_LOG: logFile, KVZIP_TEST_SUITE: name }, multiRoot: name === 'multiroot' });
  const { browser, page } = await launchBrowser();
  let printed = 0;
  const tail = setInterval(() => {
    if (!existsSync(logFile)) return;
    const text = readFileSync(logFile, 'utf8');
    process.stdout.write(text.slice(printed));
    printed = text.length;
  }, 500);
  try {
    const exit = new Promise<number>((resolve) => void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code)));
    page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
    await page.goto(workbenchUrl(cs, suite));
    const code = await Promise.race([exit, new Promise<number>((r) => setTimeout(() => r(124), TIMEOUT_MS).unref())]);
    clearInterval(tail);
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    process.stdout.write(text.slice(printed));
    if (code !== 0 || !text) console.error(`code-server log:\n${cs.log().slice(-6000)}`);
    if (!text) console.log('0 passed, 1 failed');
    console.error(`test:vscode (${name}): exit ${code} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return code;
  } finally {
    clearInterval(tail);
    await browser.close();
    await cs.stop();
  }
}

async function main(): Promise<number> {
  if (!existsSync(path.join(MODEL, 'config.json'))) throw new Error(`the test model is missing: ${MODEL} (set KVZIP_TEST_MODEL)`);
  const suite = await bundleSuite();
  const only = process.env.KVZIP_TEST_SUITE;
  let code = 0;
  for (const name of ['main', 'multiroot'] as const) {
    if (only && only !== name) continue;
    code ||= await runSuite(suite, name);
  }
  return code;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(err);
  return 1;
});
