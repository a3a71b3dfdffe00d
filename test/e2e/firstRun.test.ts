// UI test of a first run (issue 28), in code-server in Debian's chromium: the default model is a preset that is not
// downloaded, served by a Hub on 127.0.0.1 that has only its config and tokenizer. The view welcomes with the
// steps; Build asks first with the preview's estimate and offers smaller settings; nothing but the config and the
// tokenizer is fetched before the user says yes. Then failures, in the editor's words, with their buttons: the
// download the user agreed to (the Hub has no weights), and a setting that leaves no room.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { launchBrowser, startCodeServer, workbenchUrl, type CodeServer } from '../vscode/codeServer.ts';
import { runCommand, screenshot, sidebarFrame } from './sidebarPage.ts';
import { startLocalHub, type LocalHub } from './localHub.ts';

let cs: CodeServer;
let hub: LocalHub;
let stores: string;
let browser: Browser;
let page: Page;
let view: FrameLocator;

const shot = (name: string) => screenshot(page, name);
const dialog = () => page.locator('.monaco-dialog-box');
const settingsFile = () => path.join(cs.userDataDir, 'User', 'settings.json');

/** Waits for the user settings file to hold `value` for `id`. */
async function waitForSetting(id: string, value: unknown): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const s = JSON.parse(readFileSync(settingsFile(), 'utf8')) as Record<string, unknown>;
    if (s[id] === value) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${id} did not become ${JSON.stringify(value)} in the user settings`);
}

/** Plain prose, about 30 KB: several thousand tokens, a build of minutes for a 1.5B model on a CPU. */
function book(): string {
  const lines: string[] = [];
  for (let i = 1; i <= 400; i++)
    lines.push(`Chapter ${i}. Tom sailed his small boat across the lake while Lily and the dog watched from the hill.`);
  return lines.join('\n') + '\n';
}

describe('KVzip first run in code-server', { timeout: 300_000 }, () => {
  before(async () => {
    hub = await startLocalHub();
    // Empty model stores: no Hugging Face cache or Ollama models of this machine's may answer for the local Hub.
    stores = mkdtempSync(path.join(tmpdir(), 'kvzip-stores-'));
    cs = await startCodeServer({
      env: { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: path.join(stores, 'hf'), OLLAMA_MODELS: path.join(stores, 'ollama') },
      settings: { 'kvzipCode.model': 'Qwen2.5-Coder-1.5B-Instruct' },
    });
    writeFileSync(path.join(cs.workspace, 'book.txt'), book());
    ({ browser, page } = await launchBrowser());
    await page.goto(workbenchUrl(cs));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar-item', { hasText: 'KVzip' }).first().waitFor({ timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
    await hub?.close();
    rmSync(stores, { recursive: true, force: true });
  });

  it('the view welcomes with the steps: the model and its download, what goes in, the build', async () => {
    await page.locator('.activitybar [aria-label^="KVzip Code"]').first().click();
    await sidebarFrame(page);
    view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await view.getByText('Welcome to KVzip Code').waitFor();
    const steps = await view.locator('.steps li').allInnerTexts();
    assert.equal(steps.length, 3);
    assert.match(
      steps[0]!,
      /Model: Qwen2\.5-Coder-1\.5B-Instruct\s+not downloaded yet: 2\.9 GiB from the Hugging Face Hub on the first build/,
    );
    assert.match(steps[1]!, /See what goes in/);
    assert.match(steps[2]!, /Build the cache/);
    await shot('welcome');
    assert.deepEqual(hub.requests, [], 'nothing is fetched before a step is taken');
  });

  it('Build asks first, with the estimate, and offers smaller settings; nothing but the tokenizer is fetched', async () => {
    await view.locator('.step-action.build').click();
    await dialog().waitFor({ timeout: 60_000 });
    const text = await dialog().innerText();
    assert.match(text, /Download Qwen2\.5-Coder 1\.5B Instruct \(2\.9 GiB\) and build the cache for this workspace\?/);
    assert.match(text, /Download: 2\.9 GiB of weights from the Hugging Face Hub \(Qwen\/Qwen2\.5-Coder-1\.5B-Instruct\)/);
    assert.match(text, /Context: 4 of 4 files \(0 as outlines\), [\d,]+ tokens of a 32,768-token window\./);
    assert.match(text, /Memory: Needs [\d.]+ GiB \(weights 5\.8 GiB/);
    assert.match(text, /Build: about \d+ min \(CPU, fp32, fitted on the 2-core reference machine/);
    await shot('first-run-confirmation');
    const buttons = await dialog().locator('.monaco-button').allInnerTexts();
    assert.ok(buttons.includes('Download and Build'), buttons.join(' | '));
    assert.ok(
      buttons.some((b) => /^Shorter Context: [\d,]+ tokens \(about (\d+ s|\d min)\)$/.test(b)),
      buttons.join(' | '),
    );
    assert.ok(
      buttons.some((b) => /^Local Scoring \(about \d+ min\)$/.test(b)),
      buttons.join(' | '),
    );
    assert.ok(
      buttons.some((b) => /^int4 Weights \([\d.]+ GiB of memory\)$/.test(b)),
      buttons.join(' | '),
    );
    assert.ok(buttons.includes('Show Context') && buttons.includes('Cancel'), buttons.join(' | '));

    // A shorter context is saved in the user settings, and the question comes again with its figures.
    const shorter = buttons.find((b) => b.startsWith('Shorter Context'))!;
    const tokens = Number(/([\d,]+) tokens/.exec(shorter)![1]!.replace(/,/g, ''));
    await dialog().locator('.monaco-button', { hasText: shorter }).click();
    await dialog()
      .getByText(new RegExp(`tokens of a ${tokens.toLocaleString('en-US')}-token window`))
      .waitFor({ timeout: 60_000 });
    await waitForSetting('kvzipCode.maxContextTokens', tokens);
    assert.doesNotMatch(
      (await dialog().locator('.monaco-button').allInnerTexts()).join(' | '),
      /Shorter Context/,
      'within two minutes, no shorter context is offered',
    );
    await dialog().locator('.monaco-button', { hasText: 'Cancel' }).click();
    await dialog().waitFor({ state: 'detached' });

    assert.equal(await view.locator('.badge').innerText(), 'No cache', 'nothing was built');

    // A first question would build first: it asks the same, and a No leaves the question unasked, saying so.
    await view.locator('#question').fill('Who is Tom?');
    await view.locator('#question').press('Enter');
    await dialog()
      .getByText(/^Download Qwen2\.5-Coder 1\.5B Instruct/)
      .waitFor({ timeout: 60_000 });
    await dialog().locator('.monaco-button', { hasText: 'Cancel' }).click();
    await view
      .locator('.turn', { hasText: 'Who is Tom?' })
      .locator('.notes', { hasText: 'There is no cache yet, and its build was not started: nothing was asked.' })
      .waitFor({ timeout: 15_000 });
    assert.equal(await view.locator('.turn .foot').last().innerText(), 'Stopped.');
    await view.locator('#new-conversation').click();
    assert.ok(hub.requests.length > 0);
    assert.deepEqual(
      hub.requests.filter((r) => !/\/(config|tokenizer|tokenizer_config)\.json$/.test(r)),
      [],
      'only the config and the tokenizer were fetched',
    );
  });

  it('a download that fails: the view and the status bar show the failure, with Choose Model', async () => {
    // The local Hub has no weights: the download the user agreed to fails as an unreachable Hub would.
    await view.locator('.step-action.build').click();
    await dialog().waitFor({ timeout: 60_000 });
    await dialog().locator('.monaco-button', { hasText: 'Download and Build' }).click();
    const failure = view.locator('.failure');
    await failure.waitFor({ timeout: 60_000 });
    assert.match(await failure.innerText(), /^The cache build failed\.\s+×?\s*[\s\S]*(404|not found)/i);
    assert.deepEqual(await failure.locator('.actions button').allInnerTexts(), ['Choose Model', 'Show Output']);
    await page.locator('.statusbar-item', { hasText: 'KVzip: failed' }).waitFor({ timeout: 15_000 });
    await page.locator('.notifications-toasts', { hasText: 'the cache build failed' }).waitFor({ timeout: 15_000 });
    await shot('failure');
    await failure.locator('.actions button', { hasText: 'Choose Model' }).click();
    await page.locator('.quick-input-widget', { hasText: 'KVzip: choose the model' }).waitFor({ timeout: 30_000 });
    await page.keyboard.press('Escape');
    await failure.locator('.dismiss-failure').click();
    await failure.waitFor({ state: 'hidden' });
    await page.locator('.statusbar-item', { hasText: 'KVzip: no cache' }).waitFor({ timeout: 15_000 });
  });

  it('a setting at fault is named as a setting, and Open Settings opens it', async () => {
    // As a user does: in the settings editor. 20 tokens leave the files nothing after the prompt's own 22.
    await runCommand(page, 'Preferences: Open User Settings');
    await page.locator('.settings-editor').waitFor({ timeout: 30_000 });
    await page.keyboard.type('kvzipCode.maxContextTokens');
    const item = page.locator('.settings-editor .setting-item-contents', {
      has: page.locator('.setting-item-label', { hasText: /^Max Context Tokens$/ }),
    });
    await item.locator('input').fill('20');
    await page.keyboard.press('Tab');
    await waitForSetting('kvzipCode.maxContextTokens', 20);
    await runCommand(page, 'View: Close Editor');

    await view.locator('.step-action.build').click();
    await dialog().getByText('KVzip could not estimate the build.').waitFor({ timeout: 60_000 });
    const text = await dialog().innerText();
    assert.match(text, /A context of 20 tokens leaves no room for the workspace[\s\S]*\(kvzipCode\.maxContextTokens\)/);
    assert.doesNotMatch(text, /--max-context-tokens/);
    await shot('failure-setting');
    await dialog().locator('.monaco-button', { hasText: 'Open Settings' }).click();
    await page.locator('.settings-editor .search-container', { hasText: 'kvzipCode.maxContextTokens' }).waitFor({ timeout: 30_000 });
    await item.waitFor({ timeout: 30_000 });
  });
});
