// What the UI suites need of a code-server page: screenshots of what the user sees, the sidebar's own frame, and a
// person's ways to open a file and run a command.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { ROOT } from '../vscode/codeServer.ts';

const SHOTS = path.join(ROOT, 'bench/results/screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** The sidebar's own document: VS Code puts it in an iframe (#active-frame) inside the webview host iframe. */
export async function sidebarFrame(page: Page): Promise<Frame> {
  for (let i = 0; i < 100; i++) {
    for (const f of page.frames()) {
      if (!f.parentFrame()?.url().includes('/webview/browser/pre/index.html')) continue;
      if (
        await f
          .locator('#question')
          .count()
          .catch(() => 0)
      )
        return f;
    }
    await page.waitForTimeout(200);
  }
  throw new Error('the KVzip sidebar webview did not load');
}

/** Keys typed while the webview has focus stay in it: give the editor the focus first, when one is open. */
export async function focusWorkbench(page: Page): Promise<void> {
  const editor = page.locator('.editor-instance .view-lines').first();
  if (await editor.count()) await editor.click();
}

/** The quick pick's row whose label is exactly `label`: clicked, not Enter, which takes whatever row is first. */
function row(page: Page, label: string) {
  const exact = new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: exact }) }).first();
}

export async function openFile(page: Page, name: string): Promise<void> {
  await focusWorkbench(page);
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').fill(name);
  await row(page, name).click();
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 15_000 });
}

export async function runCommand(page: Page, title: string): Promise<void> {
  await focusWorkbench(page);
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill(`>${title}`);
  await row(page, title).click();
}
