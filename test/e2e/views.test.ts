// UI tests (issue 28, item 7) in code-server in Debian's chromium, with the real engine on stories260K: Show Context as
// a read-only view whose paths open the files, Ask About Selection's `file:1-2` chip, answer links drawn only for
// workspace files, a stale answer that says which change its cache predates, Show Cache Info as a list with a Clear
// button on each entry, Clear asking first, and the settings gear and a header that follows a setting.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { launchBrowser, startCodeServer, workbenchUrl, type CodeServer } from '../vscode/codeServer.ts';
import { openFile, runCommand, screenshot, sidebarFrame } from './sidebarPage.ts';

let cs: CodeServer;
let browser: Browser;
let page: Page;
let view: FrameLocator;

const shot = (name: string) => screenshot(page, name);
const dialog = () => page.locator('.monaco-dialog-box');
const quickPick = () => page.locator('.quick-input-widget');

/** Delivers a finished turn the way the extension host does (the tiny model writes stories, not paths). */
async function postFromHost(message: unknown): Promise<void> {
  const outer = (await sidebarFrame(page)).parentFrame()!;
  await outer.evaluate((m) => {
    (document.getElementById('active-frame') as HTMLIFrameElement).contentWindow!.postMessage(m, '*');
  }, message);
}

/** Waits for the view's header rows (a name, then its value, a line each) to match. */
async function header(re: RegExp): Promise<void> {
  let text = '';
  for (const end = Date.now() + 15_000; Date.now() < end; await page.waitForTimeout(200)) {
    text = await view.locator('.details').innerText();
    if (re.test(text)) return;
  }
  assert.fail(`the header never matched ${re}:\n${text}`);
}

async function ask(question: string) {
  const n = await view.locator('.turn').count();
  await view.locator('#question').fill(question);
  await view.locator('#question').press('Enter');
  const turn = view.locator('.turn').nth(n);
  await turn.locator('.stats').waitFor({ timeout: 60_000 });
  return turn;
}

describe('KVzip views and cache commands in code-server', { timeout: 300_000 }, () => {
  before(async () => {
    cs = await startCodeServer();
    ({ browser, page } = await launchBrowser());
    await page.goto(workbenchUrl(cs));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar-item', { hasText: 'KVzip' }).first().waitFor({ timeout: 60_000 });
    await page.locator('.activitybar [aria-label^="KVzip Code"]').first().click();
    await sidebarFrame(page);
    view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await view.locator('#build').click();
    await view.locator('.badge.fresh').waitFor({ timeout: 120_000 });
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
  });

  it('Show Context is a read-only view, and a path in it opens the file', async () => {
    await view.locator('.details .files-link').click();
    const tab = page.locator('.tabs-container .tab.active', { hasText: 'Context of stories' });
    await tab.waitFor({ timeout: 30_000 });
    const lines = page.locator('.editor-instance .view-lines').first();
    await lines.getByText('Goes in: 3 files').waitFor();
    await shot('show-context');
    // Typing changes nothing and leaves nothing to save.
    await lines.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('typed');
    await page.waitForTimeout(300);
    assert.doesNotMatch(await lines.innerText(), /typed/);
    assert.equal(await page.locator('.tabs-container .tab.active.dirty').count(), 0, 'no unsaved dot');
    await page.keyboard.press('Escape');
    // A path is a link (Ctrl+click, as in any editor).
    const link = page.locator('.editor-instance .view-lines .detected-link', { hasText: /^lily\.txt$/ }).first();
    await link.click({ modifiers: ['Control'] });
    await page.locator('.tabs-container .tab.active', { hasText: 'lily.txt' }).waitFor({ timeout: 15_000 });
    // Closing it asks nothing.
    await page.locator('.tabs-container .tab', { hasText: 'Context of stories' }).click();
    await runCommand(page, 'View: Close Editor');
    await page.locator('.tabs-container .tab', { hasText: 'Context of stories' }).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await dialog().count(), 0, 'no "save changes?" dialog');
  });

  it('Ask About Selection shows the selection as a file:1-2 chip that opens the file at the line', async () => {
    await openFile(page, 'tom.txt');
    await page.locator('.editor-instance .view-lines').first().click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+End');
    const n = await view.locator('.turn').count();
    // From the keyboard: a click anywhere would take the selection away.
    await page.keyboard.press('F1');
    await quickPick().locator('input').fill('>KVzip: Ask About Selection');
    await quickPick().locator('.monaco-list-row', { hasText: 'KVzip: Ask About Selection' }).first().click();
    await quickPick().locator('input').waitFor();
    await page.keyboard.press('Enter');
    const turn = view.locator('.turn').nth(n);
    await turn.locator('.stats').waitFor({ timeout: 60_000 });
    assert.equal(await turn.locator('.question').innerText(), 'What does this code do?', 'no raw fenced text');
    const chip = turn.locator('.quote-chip a.file-link', { hasText: 'tom.txt:1-2' });
    await chip.waitFor();
    await shot('selection-chip');
    await page.locator('.tabs-container .tab', { hasText: 'lily.txt' }).click();
    await chip.click();
    await page.locator('.tabs-container .tab.active', { hasText: 'tom.txt' }).waitFor({ timeout: 15_000 });
    await page.locator('.statusbar-item', { hasText: /Ln 1, Col 1/ }).waitFor({ timeout: 15_000 });
  });

  it('in an answer, a path that is not a workspace file is not drawn as a link', async () => {
    await postFromHost({
      type: 'turn',
      turn: {
        id: 9101,
        question: 'Where?',
        answer: 'In `lily.txt:3`, not in missing.txt:2, nor [gone.ts](https://example.invalid/gone.ts).',
        done: true,
        links: ['lily.txt'],
      },
    });
    const answer = view.locator('.turn[data-id="9101"] .answer');
    await answer.getByText('missing.txt:2').waitFor();
    assert.deepEqual(await answer.locator('a').allInnerTexts(), ['lily.txt:3']);
    assert.match(await answer.innerText(), /nor gone\.ts\./, "the dressed-up link's text stays, as text");
  });

  it('an answer from a stale cache says which change it predates', async () => {
    appendFileSync(path.join(cs.workspace, 'lily.txt'), 'Then Lily went home.\n');
    await view.locator('.badge.stale').waitFor({ timeout: 30_000 });
    const turn = await ask('Who is Lily?');
    await turn.locator('.notes', { hasText: 'Answered from the cache built before lily.txt changed.' }).waitFor();
    await view.locator('#build').click();
    await view.locator('.badge.fresh').waitFor({ timeout: 120_000 });
  });

  it('Show Cache Info lists the entries; Clear on one asks first, and removes it', async () => {
    await runCommand(page, 'KVzip: Show Cache Info');
    const row = quickPick().locator('.monaco-list-row', { hasText: 'stories260K' }).first();
    await row.waitFor({ timeout: 30_000 });
    const text = await row.innerText();
    assert.match(text, /stories260K/);
    assert.match(text, /\d+(\.\d)? (KiB|MiB) · [\d,]+ tokens · built (just now|\d+ min ago)/);
    assert.match(text, /Fresh · in use for this workspace \(ratio 0\.3, pair\)/);
    await shot('cache-list');
    const trash = row.locator('.action-label[aria-label="Clear this cache entry"], .action-label[title="Clear this cache entry"]').first();
    await row.hover();
    await trash.click();
    await dialog().waitFor({ timeout: 15_000 });
    const asked = await dialog().innerText();
    assert.match(asked, /Delete the KVzip cache of stories260K for stories\?/);
    // It was refreshed after the stale answer: a refresh's time says nothing of a whole build, so none is claimed.
    assert.match(asked, /stories260K \([\d.]+ (KiB|MiB), [\d,]+ tokens\)\. Using it again means building it again\./);
    await dialog().locator('.monaco-button', { hasText: 'Cancel' }).click();
    await row.waitFor();
    await row.hover();
    await trash.click();
    await dialog().locator('.monaco-button', { hasText: 'Delete Cache' }).click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    await view.locator('.badge', { hasText: 'No cache' }).waitFor({ timeout: 15_000 });
    await page.keyboard.press('Escape');
  });

  it('Clear Workspace Cache asks first, naming what goes and how long it took to build', async () => {
    await runCommand(page, 'KVzip: Build/Refresh Workspace Cache');
    await view.locator('.badge.fresh').waitFor({ timeout: 120_000 });
    await runCommand(page, 'KVzip: Clear Workspace Cache');
    await dialog().waitFor({ timeout: 15_000 });
    const asked = await dialog().innerText();
    assert.match(asked, /Delete the KVzip cache of this workspace\?/);
    assert.match(asked, /Its cache: stories260K \([\d.]+ (KiB|MiB), [\d,]+ tokens, built in \d+ s\)\. The next question builds it again/);
    await shot('clear-confirmation');
    await dialog().locator('.monaco-button', { hasText: 'Cancel' }).click();
    await page.waitForTimeout(500);
    assert.equal(await view.locator('.badge').innerText(), 'Fresh', 'Cancel keeps the cache');
    await runCommand(page, 'KVzip: Clear Workspace Cache');
    await dialog().locator('.monaco-button', { hasText: 'Delete Cache' }).click();
    await view.locator('.badge', { hasText: 'No cache' }).waitFor({ timeout: 15_000 });
  });

  it("the view's gear opens KVzip's settings, model and device first; the header follows a change", async () => {
    if ((await view.locator('.badge').innerText()) !== 'Fresh') {
      await runCommand(page, 'KVzip: Build/Refresh Workspace Cache');
      await view.locator('.badge.fresh').waitFor({ timeout: 120_000 });
    }
    await page.locator('.part.sidebar .title-actions .action-label[aria-label="Settings"]').first().click();
    await page.locator('.settings-editor').waitFor({ timeout: 30_000 });
    const labels = page.locator('.settings-editor .setting-item-contents .setting-item-label');
    await labels.first().waitFor({ timeout: 30_000 });
    const first = await labels.allInnerTexts();
    assert.deepEqual(first.slice(0, 2), ['Model', 'Device'], first.join(' | '));
    // As a user changes them: in the settings editor the gear opened.
    const item = (label: string) =>
      page.locator('.settings-editor .setting-item-contents', {
        has: page.locator('.setting-item-label', { hasText: new RegExp(`^${label}$`) }),
      });
    await item('Device').locator('select').selectOption('webgpu');
    // The last request ran on the CPU; the next one goes where the setting says.
    await header(/^Device\ncpu — CPU requested · next request: webgpu$/m);
    const model = item('Model').locator('input');
    const was = await model.inputValue();
    await model.fill(path.join(cs.workspace, 'no-model-here'));
    await page.keyboard.press('Tab');
    await header(/^Model\n\S*no-model-here$/m);
    await view.locator('.badge', { hasText: 'No cache' }).waitFor();
    await shot('settings-header');
    await model.fill(was);
    await page.keyboard.press('Tab');
    await item('Device').locator('select').selectOption('cpu');
    await view.locator('.badge', { hasText: 'Fresh' }).waitFor({ timeout: 15_000 });
    await header(/^Device\ncpu — CPU requested$/m);
  });
});
