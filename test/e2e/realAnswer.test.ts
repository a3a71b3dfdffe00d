// UI test with a trained model on real code (issue 29): commander 12.1.0's published source, fetched with npm pack
// like the real-model bench's workspaces, opened in code-server; the sidebar builds it with
// Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) and answers a question whose answer is in one file, naming that file
// first among its sources. Skips, saying why, when the model is not in the test-models cache (npm run fetch-models
// qwen2.5-coder-0.5b-q4km). A window of 2,048 tokens keeps the build to a few minutes on two cores.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { launchBrowser, startCodeServer, workbenchUrl, type CodeServer } from '../vscode/codeServer.ts';
import { screenshot, sidebarFrame } from './sidebarPage.ts';
import { REAL_MODELS, realModelsDir } from '../support/realModels.ts';
import { PACKAGES, fetchArchive, unpack } from '../../bench/real/packages.ts';

const MODEL_ID = 'qwen2.5-coder-0.5b-q4km';
const gguf = path.join(realModelsDir(), REAL_MODELS[MODEL_ID].file);
const skip = existsSync(gguf) ? false : `${REAL_MODELS[MODEL_ID].label} is not in ${realModelsDir()}: run npm run fetch-models ${MODEL_ID}`;

const commander = PACKAGES.find((p) => p.id === 'commander')!;
/**
 * Set in lib/error.js: InvalidArgumentError's constructor calls super(1, 'commander.invalidArgument', message).
 * lib/command.js also names the code, but a 2,048-token window leaves it out.
 */
const QUESTION = 'What is the code property of an InvalidArgumentError?';
const ANSWER = /commander\.invalidArgument/;
const SOURCE = 'lib/error.js';

let scratch: string;
let cs: CodeServer;
let browser: Browser;
let page: Page;
let view: FrameLocator;

describe(`KVzip sidebar on ${commander.name} ${commander.version} with Qwen2.5-Coder-0.5B-Instruct`, { skip, timeout: 900_000 }, () => {
  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'kvzip-real-ui-'));
    const root = unpack(
      fetchArchive(commander, (l) => console.log(l)),
      path.join(scratch, 'unpacked'),
    );
    // The window title names the folder: call it by the package, not npm's "package/".
    const workspace = path.join(scratch, commander.name);
    renameSync(root, workspace);
    cs = await startCodeServer({
      workspace,
      settings: { 'kvzipCode.model': gguf, 'kvzipCode.maxContextTokens': 2048, 'kvzipCode.maxAnswerTokens': 48 },
    });
    ({ browser, page } = await launchBrowser());
    await page.goto(workbenchUrl(cs));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar-item', { hasText: 'KVzip' }).first().waitFor({ timeout: 60_000 });
    await page.locator('.activitybar [aria-label^="KVzip Code"]').first().click();
    await sidebarFrame(page);
    view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('builds the cache of the package source with the GGUF model', async () => {
    await view.locator('#build').click();
    await view.locator('.badge.fresh').waitFor({ timeout: 600_000 });
    const details = await view.locator('.details').innerText();
    assert.match(details, /qwen2\.5-coder-0\.5b-instruct-q4_k_m\.gguf/);
    assert.match(details, /KV cache\s+[\d.]+ MiB of [\d.]+ MiB \(\d+%\)/);
  });

  it('answers a question about the code from the file that holds the answer, and names that file first', async () => {
    await view.locator('#question').fill(QUESTION);
    await view.locator('#question').press('Enter');
    const turn = view.locator('.turn').first();
    await turn.locator('.sources').waitFor({ timeout: 180_000 });
    const answer = await turn.locator('.answer').innerText();
    assert.match(answer, ANSWER, answer);
    const sources = await turn.locator('.sources a.source').allInnerTexts();
    assert.equal(sources[0], SOURCE, `sources: ${sources.join(', ')}`);
  });

  it('the first source opens its file beside the answer', async () => {
    await view.locator('.turn .sources a.source', { hasText: SOURCE }).first().click();
    // Generous: on a busy machine code-server took 13 s to show the file.
    await page.locator('.tabs-container .tab.active', { hasText: path.basename(SOURCE) }).waitFor({ timeout: 60_000 });
    await page.locator('.editor-instance .view-lines', { hasText: 'commander.invalidArgument' }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'real-answer-sources');
  });
});
