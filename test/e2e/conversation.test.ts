// UI tests for conversations (issue 14): follow-ups, New conversation, copying and inserting code, Explain This
// File on a file edited after the build, and (issue 28) conversations that come back after a window reload and from
// the history, clicked through the sidebar in code-server in Debian's chromium with the real engine on stories260K.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { launchBrowser, startCodeServer, workbenchUrl, type CodeServer } from '../vscode/codeServer.ts';
import { focusWorkbench, openFile as openPage, runCommand as runPageCommand, screenshot, sidebarFrame } from './sidebarPage.ts';

let cs: CodeServer;
let browser: Browser;
let page: Page;
let view: FrameLocator;

const shot = (name: string) => screenshot(page, name);
const viewFrame = () => sidebarFrame(page);

/** Delivers a finished turn the way the extension host does (the tiny model writes stories, not code). */
async function postFromHost(message: unknown): Promise<void> {
  const outer = (await viewFrame()).parentFrame()!;
  await outer.evaluate((m) => {
    (document.getElementById('active-frame') as HTMLIFrameElement).contentWindow!.postMessage(m, '*');
  }, message);
}

/** Asks in the sidebar and waits for the answer to finish; returns the turn's answer and footer. */
async function ask(question: string): Promise<{ answer: string; foot: string }> {
  const n = await view.locator('.turn').count();
  await view.locator('#question').fill(question);
  await view.locator('#question').press('Enter');
  const turn = view.locator('.turn').nth(n);
  await turn.locator('.stats').waitFor({ timeout: 60_000 });
  return { answer: await turn.locator('.answer').innerText(), foot: await turn.locator('.foot').innerText() };
}

const openFile = (name: string) => openPage(page, name);
const runCommand = (title: string) => runPageCommand(page, title);

describe('KVzip conversations in code-server', { timeout: 300_000 }, () => {
  before(async () => {
    cs = await startCodeServer();
    ({ browser, page } = await launchBrowser());
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cs.url });
    await page.goto(workbenchUrl(cs));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar-item', { hasText: 'KVzip' }).first().waitFor({ timeout: 60_000 });
    await page.locator('.activitybar [aria-label^="KVzip Code"]').first().click();
    await viewFrame();
    view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await view.locator('#build').click();
    await view.locator('.badge.fresh').waitFor({ timeout: 120_000 });
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
  });

  let followUp = '';

  it('a follow-up is read with the earlier turn, and says so', async () => {
    const first = await ask('Tom and Max');
    assert.doesNotMatch(first.foot, /earlier turn/);
    const second = await ask('The ball');
    assert.match(second.foot, /reads 1 earlier turn/);
    followUp = second.answer;
    assert.ok(followUp.trim().length > 0);
    await shot('conversation-follow-up');
  });

  it('New conversation empties the view and answers from the bare cache', async () => {
    await view.locator('#new-conversation').click();
    await view.locator('.turn').first().waitFor({ state: 'detached' });
    await view.getByText('Ask about this repository').waitFor();
    const bare = await ask('The ball');
    assert.doesNotMatch(bare.foot, /earlier turn/);
    assert.notEqual(bare.answer, followUp, 'without the earlier turn the model answers otherwise');
    // Again from the bare cache: the same answer, so nothing of the conversation before lingers.
    await runCommand('KVzip: New Conversation');
    await view.locator('.turn').first().waitFor({ state: 'detached' });
    assert.equal((await ask('The ball')).answer, bare.answer);
  });

  it('Copy on a code block puts its text on the clipboard; Insert at cursor puts it in the editor', async () => {
    const code = 'function greet(name) {\n  return `Hello, ${name}!`;\n}';
    await postFromHost({
      type: 'turn',
      turn: {
        id: 9101,
        question: 'Show a greeting',
        answer: `Here it is:\n\n\`\`\`js\n${code}\n\`\`\`\n\nDone.`,
        done: true,
        stats: 'example',
      },
    });
    const turn = view.locator('.turn[data-id="9101"]');
    await turn.locator('.copy-code').click();
    await page.waitForFunction(async (want) => (await navigator.clipboard.readText()) === want, code, { timeout: 10_000 });
    await shot('conversation-code-actions');

    await turn.locator('.copy-answer').click();
    await page.waitForFunction(async () => (await navigator.clipboard.readText()).startsWith('Here it is:'), undefined, {
      timeout: 10_000,
    });

    await openFile('tom.txt');
    await turn.locator('.insert-code').click();
    await page.locator('.editor-instance .view-lines', { hasText: 'return `Hello, ${name}!`;' }).waitFor({ timeout: 15_000 });
    // Leave tom.txt as it was built.
    await runCommand('File: Revert File');
    await page.locator('.editor-instance .view-lines', { hasText: 'Hello, ' }).waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('Explain This File on a file edited after the build adds its current text, and the header says so', async () => {
    await runCommand('KVzip: New Conversation');
    appendFileSync(path.join(cs.workspace, 'lily.txt'), 'Later, Lily found a small red key under the tree.\n');
    await view.locator('.badge.stale').waitFor({ timeout: 30_000 });
    await openFile('lily.txt');
    await page.locator('.editor-instance .view-lines', { hasText: 'small red key' }).waitFor({ timeout: 15_000 });
    const n = await view.locator('.turn').count();
    await runCommand('KVzip: Explain This File');
    const turn = view.locator('.turn').nth(n);
    await turn.locator('.stats').waitFor({ timeout: 60_000 });
    assert.match(await turn.locator('.question').innerText(), /Explain the file lily\.txt/);
    // The tiny model's window leaves little room after the context: the note says how much of the file fit. The
    // answer came from the cache built before the edit, and says so first.
    assert.match(
      await turn.locator('.notes').innerText(),
      /^Answered from the cache built before [^\n]*\blily\.txt\b[^\n]* changed\.\ncurrent text of lily\.txt added( \(its first \d+ of 7 lines, to fit the question budget\))?: changed since the build$/,
    );
    await shot('conversation-explain-changed-file');
  });

  it('the conversation comes back after a window reload, and a follow-up reads its turns', async () => {
    await runCommand('KVzip: New Conversation');
    await view.locator('.turn').first().waitFor({ state: 'detached' });
    await ask('Lily and the dog');
    const questions = await view.locator('.turn .question').allInnerTexts();
    assert.deepEqual(questions, ['Lily and the dog']);
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar-item', { hasText: 'KVzip' }).first().waitFor({ timeout: 60_000 });
    // The shortcut opens the view wherever the focus is (the reload may have left the view open or closed).
    // An editor the reload brought back takes the click; the shortcut works from anywhere in the workbench.
    await focusWorkbench(page);
    await page.keyboard.press('Control+Alt+K');
    const frame = await viewFrame();
    view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    // The view's page may load after the shortcut asked for the focus: it takes it when it is ready.
    await frame.waitForFunction(() => document.activeElement?.id === 'question', undefined, { timeout: 30_000 });
    await view
      .locator('.turn')
      .nth(questions.length - 1)
      .waitFor({ timeout: 30_000 });
    assert.deepEqual(await view.locator('.turn .question').allInnerTexts(), questions);
    await shot('conversation-restored');
    const next = await ask('Who is Lily?');
    assert.match(next.foot, /reads 1 earlier turn/, 'the model reads the restored turn too');
  });

  it('New conversation keeps the old one in the history; a click brings it back', async () => {
    await view.locator('#new-conversation').click();
    await view.locator('.turn').first().waitFor({ state: 'detached' });
    const recent = view.locator('.recent .conversation-link');
    await recent.first().waitFor();
    // Newest first: the one just left, then the earlier ones of this suite.
    const titles = await recent.allInnerTexts();
    assert.equal(titles[0], 'Lily and the dog');
    assert.match(titles[1]!, /^Explain the file lily\.txt/);
    assert.ok(titles.includes('Tom and Max'), titles.join(' | '));
    await shot('conversation-history');
    await view.locator('.recent .conversation-link', { hasText: 'Tom and Max' }).click();
    await view.locator('.turn').nth(1).waitFor();
    assert.deepEqual(await view.locator('.turn .question').allInnerTexts(), ['Tom and Max', 'The ball']);
    const more = await ask('Max');
    assert.match(more.foot, /reads 2 earlier turns/);
  });
});
