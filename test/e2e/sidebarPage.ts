// What both UI suites need of a code-server page: screenshots of what the user sees, and the sidebar's own frame.
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
