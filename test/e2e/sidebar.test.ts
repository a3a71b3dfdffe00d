// UI tests: a person's clicks through the KVzip sidebar in code-server, in Debian's chromium, with the real engine
// on stories260K. Screenshots of what they see go to bench/results/screenshots.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { launchBrowser, startCodeServer, workbenchUrl, type CodeServer } from '../vscode/codeServer.ts';
import { openFile, runCommand, screenshot, sidebarFrame } from './sidebarPage.ts';
import { PHASE_WORDS } from '../../src/core/progressWords.ts';

let cs: CodeServer;
let browser: Browser;
let page: Page;
let view: FrameLocator;

const shot = (name: string) => screenshot(page, name);
const viewFrame = () => sidebarFrame(page);

/** Posts a message into the sidebar the way the extension host does, from the webview host frame. */
async function postFromHost(message: unknown): Promise<void> {
  const inner = await viewFrame();
  const outer = inner.parentFrame()!;
  await outer.evaluate((m) => {
    const frame = document.getElementById('active-frame') as HTMLIFrameElement;
    frame.contentWindow!.postMessage(m, '*');
  }, message);
}

/**
 * The tiny model answers in well under a second, quicker than a remote click: act from inside the view the moment
 * the Stop button appears (the host said it is busy), as a fast user would.
 */
async function whenBusy(): Promise<void> {
  const frame = await viewFrame();
  await frame.evaluate(() => {
    const stop = document.getElementById('stop')!;
    const obs = new MutationObserver(() => {
      if (stop.hidden) return;
      obs.disconnect();
      stop.click();
    });
    obs.observe(stop, { attributes: true, attributeFilter: ['hidden'] });
  });
}

/** The engine process this code-server's extension host started. */
function enginePid(): number {
  const ps = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,args=']).toString().split('\n');
  const engine = ps.map((l) => l.trim().split(/\s+/)).find((f) => Number(f[1]) === cs.pgid && f.some((a) => a.endsWith('dist/engine.js')));
  assert.ok(engine, 'the engine runs under this code-server');
  return Number(engine[0]);
}

async function ask(question: string): Promise<void> {
  await view.locator('#question').fill(question);
  await view.locator('#question').press('Enter');
}

describe('KVzip sidebar in code-server', { timeout: 300_000 }, () => {
  before(async () => {
    // The stories workspace is tiny; smaller scoring chunks stretch the build enough to be seen in progress.
    cs = await startCodeServer({ env: { KVZIP_SCORE_CHUNK: '8' }, settings: { 'kvzipCode.maxAnswerTokens': 400 } });
    ({ browser, page } = await launchBrowser());
    await page.goto(workbenchUrl(cs));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar-item', { hasText: 'KVzip' }).first().waitFor({ timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
  });

  it('opens the view from the activity bar and shows the first-run steps', async () => {
    await page.locator('.activitybar [aria-label^="KVzip Code"]').first().click();
    await viewFrame();
    view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await view.locator('.badge', { hasText: 'No cache' }).waitFor();
    await view.getByText('Welcome to KVzip Code').waitFor();
    // The test model is a folder on this machine: nothing to download.
    assert.match(await view.locator('.steps li').first().innerText(), /stories260K[\s\S]*on this machine/);
  });

  it('builds the cache with progress in words, the same in the sidebar and the status bar, and shows the figures', async () => {
    await view.locator('#build').click();
    await view.locator('.badge.building').waitFor({ timeout: 30_000 });
    // The stretched scoring is long enough to read its words in both places; each says the step, never its id.
    const words = new RegExp(`^${PHASE_WORDS.score} \\(\\d+%(, [^)]+ left)?\\)$`);
    const [step, bar] = await Promise.all([
      view.locator('.details .row', { hasText: PHASE_WORDS.score }).locator('.v').innerText({ timeout: 60_000 }),
      page.locator('.statusbar-item', { hasText: PHASE_WORDS.score }).first().innerText({ timeout: 60_000 }),
    ]);
    assert.match(step.trim(), words);
    assert.match(bar.trim().replace(/^KVzip: /, ''), words);
    // The notification may come and go before it is read; when it is read, it says the same words.
    const toast = await page
      .locator('.notifications-toasts', { hasText: 'building the workspace cache' })
      .innerText({ timeout: 10_000 })
      .catch(() => undefined);
    if (toast)
      assert.ok(
        Object.values(PHASE_WORDS).some((w) => toast.includes(`cache: ${w}`)),
        toast,
      );
    await shot('building');
    await view.locator('.badge.fresh').waitFor({ timeout: 120_000 });
    const details = await view.locator('.details').innerText();
    assert.match(details, /KV cache\s+[\d.]+ MiB of [\d.]+ MiB \(\d+%\)/);
    assert.match(details, /Device\s+cpu/i);
    // The stories folder: README.md, lily.txt and tom.txt go in whole.
    assert.match(details, /Context\s+3 of 3 files in the context\n/);
    assert.match(details, /Tokens\s+[\d,]+/);
    assert.match(await page.locator('.statusbar-item', { hasText: 'KVzip' }).first().innerText(), /KVzip/);
    assert.match(await view.locator('.empty').innerText(), /read 3 of 3 files in the context of this workspace/);
    assert.doesNotMatch(await view.locator('.empty').innerText(), /whole workspace/);
  });

  it('"N of M files in the context" opens Show Context', async () => {
    await view.locator('.details .files-link').click();
    await page.locator('.editor-instance .view-lines', { hasText: 'Goes in: 3 files' }).waitFor({ timeout: 30_000 });
    // The preview is an untitled editor: closing it plainly would ask whether to save it.
    await runCommand(page, 'View: Revert and Close Editor');
  });

  it('asks, and the answer streams in token by token', async () => {
    const frame = await viewFrame();
    await frame.evaluate(() => {
      const w = window as unknown as { tokens: number };
      w.tokens = 0;
      window.addEventListener('message', (e) => (e.data?.type === 'token' ? w.tokens++ : undefined));
    });
    await ask('Who is Lily?');
    await view.locator('.turn').first().waitFor();
    assert.match(await view.locator('.turn .question').first().innerText(), /Who is Lily\?/);
    await view.locator('.turn:not(.streaming) .stats').first().waitFor({ timeout: 60_000 });
    const answer = await view.locator('.turn .answer').first().innerText();
    assert.ok(answer.trim().length > 0, 'the answer has text');
    const tokens = await frame.evaluate(() => (window as unknown as { tokens: number }).tokens);
    assert.ok(tokens > 1, `the answer arrived as a stream (${tokens} token messages)`);
  });

  it('a file link in an answer opens the file at the line', async () => {
    // stories260K writes stories, not paths: this answer is delivered as the host delivers model text.
    await postFromHost({
      type: 'turn',
      turn: {
        id: 9001,
        question: 'Where does Lily meet the dog?',
        answer: 'Lily meets the dog in `lily.txt:3`; Tom sails in tom.txt.',
        done: true,
        stats: 'example',
      },
    });
    const link = view.locator('.turn[data-id="9001"] a.file-link', { hasText: 'lily.txt:3' });
    await link.waitFor();
    await shot('answer-with-link');
    await link.click();
    await page.locator('.tabs-container .tab.active', { hasText: 'lily.txt' }).waitFor({ timeout: 15_000 });
    await page.locator('.statusbar-item', { hasText: /Ln 3, Col 1/ }).waitFor({ timeout: 15_000 });
  });

  it('a link that leaves the workspace does not open anything', async () => {
    writeFileSync(path.join(cs.workspace, '..', 'outside.txt'), 'not part of the workspace\n');
    await postFromHost({ type: 'turn', turn: { id: 9002, question: 'q', answer: 'See ../outside.txt:1 now.', done: true } });
    await view.locator('.turn[data-id="9002"] a.file-link', { hasText: '../outside.txt:1' }).click();
    await page.locator('.notifications-toasts', { hasText: 'is not a file in this workspace' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('.tabs-container .tab', { hasText: 'outside.txt' }).count(), 0);
  });

  it('a markdown link dressed as a file link opens the file, never the site', async () => {
    const pages = page.context().pages().length;
    await postFromHost({
      type: 'turn',
      turn: {
        id: 9004,
        question: 'q',
        answer: 'Read [tom.txt](https://example.invalid/tom.txt) or [this](https://example.invalid/x "Open lily.txt at line 2").',
        done: true,
      },
    });
    await view.locator('.turn[data-id="9004"] a', { hasText: 'tom.txt' }).click();
    await page.locator('.tabs-container .tab.active', { hasText: 'tom.txt' }).waitFor({ timeout: 15_000 });
    await view.locator('.turn[data-id="9004"] a', { hasText: 'this' }).click();
    await page.locator('.tabs-container .tab.active', { hasText: 'lily.txt' }).waitFor({ timeout: 15_000 });
    await page.locator('.statusbar-item', { hasText: /Ln 2, Col 1/ }).waitFor({ timeout: 15_000 });
    await page.waitForTimeout(500);
    assert.equal(await page.locator('.monaco-dialog-box').count(), 0, 'no "open the external website?" dialog');
    assert.equal(page.context().pages().length, pages, 'no new browser tab');
  });

  it('the stop button stops an answer', async () => {
    await whenBusy();
    await ask('Tell me a long story about Tom and his boat.');
    await view.locator('.turn:last-child', { hasText: 'Stopped.' }).waitFor({ timeout: 30_000 });
    await view.locator('#stop').waitFor({ state: 'hidden' });
  });

  it('Ctrl+Alt+K puts the selection in the question box; Esc stops an answer; ↑ recalls the questions', async () => {
    await openFile(page, 'tom.txt');
    await page.locator('.editor-instance .view-lines').first().click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+End');
    await page.keyboard.press('Control+Alt+K');
    await view.locator('.attachment', { hasText: 'tom.txt:1-2' }).waitFor({ timeout: 15_000 });
    const frame = await viewFrame();
    await frame.waitForFunction(() => document.hasFocus() && document.activeElement?.id === 'question', undefined, { timeout: 15_000 });
    // Typing goes where the focus is: the question box.
    await page.keyboard.type('What happens in these lines?');
    assert.equal(await view.locator('#question').inputValue(), 'What happens in these lines?');
    await shot('keyboard-shortcut');
    const n = await view.locator('.turn').count();
    await page.keyboard.press('Enter');
    const turn = view.locator('.turn').nth(n);
    await turn.locator('.stats').waitFor({ timeout: 60_000 });
    // The selection went with the question: its chip, not its text.
    assert.equal(await turn.locator('.question').innerText(), 'What happens in these lines?');
    await turn.locator('.quote-chip a.file-link', { hasText: 'tom.txt:1-2' }).waitFor();
    await view.locator('.attachment').waitFor({ state: 'hidden' });

    // Frozen, the engine cannot finish before Esc: the answer is still running when the key lands.
    const engine = enginePid();
    process.kill(engine, 'SIGSTOP');
    try {
      await ask('Tell me a long story about Tom and his boat.');
      await view.locator('#stop').waitFor({ state: 'visible', timeout: 30_000 });
      await page.keyboard.press('Escape');
    } finally {
      process.kill(engine, 'SIGCONT');
    }
    await view.locator('.turn:last-child', { hasText: 'Stopped.' }).waitFor({ timeout: 30_000 });
    await view.locator('#stop').waitFor({ state: 'hidden' });

    await view.locator('#question').focus();
    await page.keyboard.press('ArrowUp');
    assert.equal(await view.locator('#question').inputValue(), 'Tell me a long story about Tom and his boat.');
    await page.keyboard.press('ArrowUp');
    assert.equal(await view.locator('#question').inputValue(), 'What happens in these lines?');
    // The stopped answer at the bottom of the view, in the picture.
    await frame.evaluate(() => {
      const turns = document.querySelector('.turns')!;
      turns.scrollTop = turns.scrollHeight;
    });
    await shot('keyboard-esc-up');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.equal(await view.locator('#question').inputValue(), '', '↓ past the last question empties the box');
  });

  it('model output with <script>, <img onerror> and javascript: links renders inert', async () => {
    const frame = await viewFrame();
    const hostile = [
      'Hostile answer: <script>window.pwned = "script"</script>',
      '<img src=x onerror="window.pwned = \'img\'">',
      '[click me](javascript:window.pwned="md-link") and <a href="javascript:window.pwned=\'a\'">raw link</a>',
      '<iframe srcdoc="<script>parent.pwned=1</script>"></iframe> <svg onload="window.pwned=\'svg\'"></svg>',
      '[cmd](command:workbench.action.quit) [data](data:text/html,<script>alert(1)</script>)',
    ].join('\n\n');
    await postFromHost({ type: 'turn', turn: { id: 9003, question: 'hostile', answer: hostile, done: true } });
    const answer = view.locator('.turn[data-id="9003"] .answer');
    await answer.getByText('Hostile answer').waitFor();
    for (const a of await answer.locator('a').all()) await a.click();
    await page.waitForTimeout(500);
    const found = await frame.evaluate(() => {
      const root = document.querySelector('.turn[data-id="9003"] .answer')!;
      return {
        pwned: (window as unknown as { pwned?: unknown }).pwned,
        active: root.querySelectorAll('script, img, iframe, svg, object, embed, [onerror], [onload]').length,
        hrefs: Array.from(root.querySelectorAll('a[href]')).map((a) => a.getAttribute('href')),
        text: (root as HTMLElement).innerText,
      };
    });
    assert.equal(found.pwned, undefined, 'no hostile code ran');
    assert.equal(found.active, 0, 'no active elements were created');
    assert.ok(
      found.hrefs.every((h) => h === '#' || /^https?:/.test(h ?? '')),
      `only safe hrefs: ${found.hrefs.join(', ')}`,
    );
    assert.match(found.text, /<script>window\.pwned/, 'raw HTML shows as text');
    await shot('hostile-output');
  });

  it('shows what happened when the engine dies mid-answer, and recovers', async () => {
    // Frozen first, so the tiny model cannot finish its answer before the kill lands.
    const engine = enginePid();
    process.kill(engine, 'SIGSTOP');
    await ask('Tell me a long story about Lily and the dog.');
    await view.locator('#stop').waitFor({ state: 'visible', timeout: 30_000 });
    process.kill(engine, 'SIGKILL');
    const error = view.locator('.turn:last-child .error-text');
    await error.waitFor({ timeout: 30_000 });
    assert.match(await error.innerText(), /engine was killed by SIGKILL[\s\S]*restarts on the next request/);
    await shot('error');
    await ask('Who is Tom?');
    await view.locator('.turn:last-child:not(.streaming) .stats').waitFor({ timeout: 60_000 });
  });

  it('keeps the conversation when the view is hidden and shown again', async () => {
    const before = await view.locator('.turn').count();
    await page.locator('.activitybar [aria-label^="Explorer"]').first().click();
    await page.locator('.activitybar [aria-label^="KVzip Code"]').first().click();
    view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await view
      .locator('.turn')
      .nth(before - 1)
      .waitFor();
    assert.equal(await view.locator('.turn').count(), before);
  });
});
