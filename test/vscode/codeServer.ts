// Runs the extension in a real VS Code: code-server 4.100.3 (installed by install-code-server.sh) driven by
// Debian's chromium through playwright-core. Shared by the extension-host runner and the UI tests.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const STORIES = path.join(ROOT, 'test/vscode/fixtures/stories');
/** The tiny real Llama that CI ships beside the repository. */
export const MODEL = process.env.KVZIP_TEST_MODEL ?? path.resolve(ROOT, '../shared/models/stories260K');
const CHROMIUM = process.env.KVZIP_CHROMIUM ?? '/usr/bin/chromium';

export interface CodeServer {
  url: string;
  /** Process group of code-server and everything under it (extension host, engine). */
  pgid: number;
  workspace: string;
  /** Set for a multi-root run: the .code-workspace file that opens the story folder and a second one. */
  workspaceFile?: string;
  userDataDir: string;
  /** The extension's global storage, where the cache lives. */
  cacheDir: string;
  log(): string;
  stop(): Promise<void>;
}

export function installCodeServer(): string {
  const out = execFileSync('bash', [path.join(ROOT, 'test/vscode/install-code-server.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  return out.toString().trim().split('\n').pop()!;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** User settings for the test profile: the tiny model on the CPU, and no first-run noise. */
function userSettings(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    'kvzipCode.model': MODEL,
    'kvzipCode.device': 'cpu',
    'kvzipCode.maxAnswerTokens': 40,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'security.workspace.trust.enabled': false,
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'chat.commandCenter.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    ...extra,
  };
}

export interface Profile {
  base: string;
  workspace: string;
  workspaceFile?: string;
  userDataDir: string;
}

/** A temporary copy of the workspace (the stories unless `from` names another folder) and a fresh user profile holding the test settings. */
export function prepareProfile(settings: Record<string, unknown> = {}, multiRoot = false, from = STORIES): Profile {
  const base = mkdtempSync(path.join(tmpdir(), 'kvzip-vscode-'));
  const workspace = path.join(base, path.basename(from));
  cpSync(from, workspace, { recursive: true });
  const userDataDir = path.join(base, 'user-data');
  mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(userSettings(settings), null, 2));
  if (!multiRoot) return { base, workspace, userDataDir };
  // A second folder beside the stories, both opened through one workspace file.
  const notes = path.join(base, 'notes');
  mkdirSync(notes);
  writeFileSync(path.join(notes, 'sam.txt'), 'Sam had a red kite. Sam and Ben ran to the hill to fly it.\n');
  const workspaceFile = path.join(base, 'two.code-workspace');
  writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: workspace }, { path: notes }] }, null, 2));
  return { base, workspace, workspaceFile, userDataDir };
}

export async function startCodeServer(
  opts: { env?: Record<string, string>; settings?: Record<string, unknown>; multiRoot?: boolean; workspace?: string } = {},
): Promise<CodeServer> {
  const bin = installCodeServer();
  const { base, workspace, workspaceFile, userDataDir } = prepareProfile(opts.settings, opts.multiRoot, opts.workspace);
  const xdg = Object.fromEntries(
    ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME'].map((k) => [k, path.join(base, k.toLowerCase())]),
  );
  for (const d of Object.values(xdg)) mkdirSync(d, { recursive: true });
  const port = await freePort();
  let output = '';
  // setsid puts code-server and everything it spawns (extension host, engine) in one process group to stop at once.
  const child: ChildProcess = spawn(
    'setsid',
    [
      bin,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      userDataDir,
      '--extensions-dir',
      path.join(base, 'extensions'),
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--log',
      'info',
    ],
    { env: { ...process.env, ...xdg, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: false },
  );
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`code-server did not start in 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    pgid: child.pid!,
    workspace,
    ...(workspaceFile ? { workspaceFile } : {}),
    userDataDir,
    cacheDir: path.join(userDataDir, 'User', 'globalStorage', 'kvzip-code.kvzip-code'),
    log: () => output,
    stop: async () => {
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** The workbench URL that loads this repository as a development extension, optionally running a test module. */
export function workbenchUrl(cs: CodeServer, testsPath?: string): string {
  const remote = (p: string) => `vscode-remote://${new URL(cs.url).host}${p}`;
  const payload: [string, string][] = [['extensionDevelopmentPath', remote(ROOT)]];
  if (testsPath) payload.push(['extensionTestsPath', remote(testsPath)]);
  const open = cs.workspaceFile ? `workspace=${encodeURIComponent(cs.workspaceFile)}` : `folder=${encodeURIComponent(cs.workspace)}`;
  return `${cs.url}/?${open}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** Chromium with a fresh temporary profile (playwright makes one per launch) and nothing that phones home. */
export async function launchBrowser(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  return { browser, page };
}
