// Extension-host tests: the real extension in a real VS Code, with the real engine on the stories260K model.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, appendFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KvzipApi } from '../../../src/extension/extension.ts';
import type { BuildResult, UsableEntryInfo } from '../../../src/engine/protocol.ts';
import { statusText } from '../../../src/extension/statusBar.ts';

const EXTENSION_ID = 'kvzip-code.kvzip-code';

async function until(what: string, f: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function folder(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'the test workspace is open');
  return f.uri.fsPath;
}

let api: KvzipApi;

suite('KVzip Code extension', () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<KvzipApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed`);
    api = await ext.activate();
  });

  test('activates with a status bar state and the cache in global storage', () => {
    assert.equal(vscode.extensions.getExtension(EXTENSION_ID)?.isActive, true);
    assert.equal(api.controller.current.workspace, true);
    assert.ok(['none', 'fresh', 'stale'].includes(api.controller.current.state));
    assert.ok(!api.cacheDir.startsWith(folder()), 'the cache is never inside the repository');
  });

  test('registers every contributed command', async () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: { command: string }[] } };
    const all = new Set(await vscode.commands.getCommands(true));
    for (const { command } of pkg.contributes.commands) assert.ok(all.has(command), `${command} is registered`);
  });

  test('build → ask answers from the persisted cache on stories260K', async () => {
    const built = (await vscode.commands.executeCommand<BuildResult | undefined>('kvzipCode.build'))!;
    assert.ok(built, 'the build returns its result');
    assert.ok(built.contextTokens > 0);
    assert.ok(built.kvBytesCompressed < built.kvBytesFull, 'KVzip kept less than the full cache');
    assert.equal(api.controller.current.state, 'fresh');
    assert.equal(api.controller.current.device, built.device);
    // The header's "N of M files in the context (K as outlines)".
    assert.deepEqual(api.controller.current.files, {
      included: built.report.included.length,
      scanned: built.report.stats.scanned,
      outlines: built.report.included.filter((f) => f.outline).length,
    });

    const turn = await api.controller.ask('Who is Lily?');
    assert.equal(turn.error, undefined, turn.error);
    assert.ok(turn.done && turn.answer.trim().length > 0, 'an answer streamed in');
    assert.equal(api.controller.lastAsk?.fromCache, true, 'the answer came from the cache, no context prefill');
    // The build's end opened the new cache ahead of the question: the answer waited for no session to open.
    assert.equal(api.controller.lastAsk?.timings.weightsCheck, undefined, JSON.stringify(api.controller.lastAsk?.timings));

    const again = (await vscode.commands.executeCommand<BuildResult | undefined>('kvzipCode.build'))!;
    assert.equal(again.fromCache, true, 'a second build with no change reuses the cache');
  });

  test('a change to an included file marks the cache stale; an excluded one does not', async () => {
    if (api.controller.current.state !== 'fresh') await vscode.commands.executeCommand('kvzipCode.build');
    assert.equal(api.controller.current.state, 'fresh');
    mkdirSync(path.join(folder(), 'node_modules', 'pkg'), { recursive: true });
    writeFileSync(path.join(folder(), 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(api.controller.current.state, 'fresh', 'node_modules is not part of the context');
    appendFileSync(path.join(folder(), 'lily.txt'), 'The next day, Lily and the dog went to the park again.\n');
    await until('the cache to go stale', () => api.controller.current.state === 'stale');
    const turn = await api.controller.ask('What did Lily do?');
    assert.equal(turn.error, undefined, 'a stale cache still answers');
    assert.ok(
      turn.notes?.includes('Answered from the cache built before lily.txt changed.'),
      `the turn says so: ${turn.notes?.join(' | ')}`,
    );
    assert.equal(api.controller.current.state, 'stale', 'answering does not refresh by itself');
    // A setting the cache does not depend on changes nothing of its state.
    const config = vscode.workspace.getConfiguration('kvzipCode');
    await config.update('maxAnswerTokens', 41, vscode.ConfigurationTarget.Global);
    await config.update('maxAnswerTokens', undefined, vscode.ConfigurationTarget.Global);
    assert.equal(api.controller.current.state, 'stale', 'a settings change does not make a stale cache fresh');
    await vscode.commands.executeCommand('kvzipCode.build');
    assert.equal(api.controller.current.state, 'fresh', 'refresh is one command');
  });

  test('Explain This File and Ask About Selection ask through the sidebar', async () => {
    const doc = await vscode.workspace.openTextDocument(path.join(folder(), 'tom.txt'));
    const editor = await vscode.window.showTextDocument(doc);
    const before = api.controller.turns.length;
    await vscode.commands.executeCommand('kvzipCode.explainFile');
    assert.equal(api.controller.turns.length, before + 1);
    assert.match(api.controller.turns.at(-1)!.question, /tom\.txt/);
    assert.equal(api.controller.turns.at(-1)!.error, undefined);

    editor.selection = new vscode.Selection(0, 0, 1, 10);
    const asked = vscode.commands.executeCommand('kvzipCode.askSelection');
    // The command asks for the question in an input box: accept its default.
    await new Promise((r) => setTimeout(r, 700));
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await asked;
    const last = api.controller.turns.at(-1)!;
    assert.equal(api.controller.turns.length, before + 2);
    // The selection shows as its chip, a link to the file at its first line, not as its text.
    assert.equal(last.question, 'What does this code do?');
    assert.deepEqual(last.quote, { label: 'tom.txt:1-2', path: 'tom.txt', line: 1 });
    assert.ok(Array.isArray(last.links), "the answer's file references were checked against the workspace");
  });

  test('Ask About Selection cuts a selection longer than the window to fit, and says so', async () => {
    // 400 lines of a story is several thousand tokens; stories260K attends over 512 positions.
    const lines = Array.from({ length: 400 }, (_, i) => `Line ${i + 1}: Tom and Lily sailed the small boat on the pond.`);
    const doc = await vscode.workspace.openTextDocument({ content: lines.join('\n'), language: 'plaintext' });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(0, 0, lines.length - 1, lines[lines.length - 1]!.length);
    const asked = vscode.commands.executeCommand('kvzipCode.askSelection');
    await new Promise((r) => setTimeout(r, 700));
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await asked;
    const last = api.controller.turns.at(-1)!;
    assert.equal(last.error, undefined, last.error);
    const m = /only the first (\d+) of 400 selected lines fit in the model's window/.exec(last.stats ?? '');
    assert.ok(m, `the turn says the selection was cut: ${last.stats}`);
    assert.ok(Number(m[1]) > 0 && Number(m[1]) < 400);
    assert.ok(last.answer.trim().length > 0, 'and it still answered');
    // An untitled editor is no file of the workspace: its chip is not a link.
    assert.match(last.quote?.label ?? '', /^Untitled-\d+:1-400$/);
    assert.equal(last.quote?.path, undefined);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  test('Show Cache Info, Choose Model, Stop and the status bar action run', async () => {
    const listed = vscode.commands.executeCommand<UsableEntryInfo[] | undefined>('kvzipCode.showInfo');
    await new Promise((r) => setTimeout(r, 1500));
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    const entries = await listed;
    assert.ok(Array.isArray(entries) && entries.length >= 1, 'the built entry is listed');
    assert.equal(entries[0]!.workspace, folder());

    const picked = vscode.commands.executeCommand('kvzipCode.chooseModel');
    await new Promise((r) => setTimeout(r, 700));
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await picked, undefined, 'dismissing the pick changes nothing');

    await vscode.commands.executeCommand('kvzipCode.stop');
    await vscode.commands.executeCommand('kvzipCode.statusBarClick');
  });

  test("an answer that runs to the end of the window says the model's window is full", async () => {
    const config = vscode.workspace.getConfiguration('kvzipCode');
    await config.update('maxAnswerTokens', 100_000, vscode.ConfigurationTarget.Global);
    try {
      const turn = await api.controller.ask('Tell me a long story about Tom and his boat.');
      assert.equal(turn.error, undefined, turn.error);
      assert.equal(turn.ended, "Stopped: the model's window is full.");
    } finally {
      await config.update('maxAnswerTokens', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('Show Context opens a read-only view whose paths open the files', async () => {
    await vscode.commands.executeCommand('kvzipCode.showContext');
    const doc = vscode.window.activeTextEditor?.document;
    assert.ok(doc, 'an editor shows the preview');
    assert.equal(doc.uri.scheme, 'kvzip-context');
    assert.match(doc.getText(), /Goes in: 3 files/);
    assert.equal(doc.isUntitled, false, 'not an untitled editor that asks to be saved');
    // Typing into it changes nothing: the UI test types.
    assert.equal(doc.isDirty, false);
    const links = await vscode.commands.executeCommand<vscode.DocumentLink[]>('vscode.executeLinkProvider', doc.uri);
    const real = realpathSync(folder());
    const targets = links.map((l) => [doc.getText(l.range), l.target?.fsPath]).sort();
    assert.deepEqual(targets, [
      ['README.md', path.join(real, 'README.md')],
      ['lily.txt', path.join(real, 'lily.txt')],
      ['tom.txt', path.join(real, 'tom.txt')],
    ]);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('settings: model and device come first, the view has a gear, and the header follows a change', async () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
      contributes: { configuration: { properties: Record<string, { order?: number }> }; menus: Record<string, { command: string }[]> };
    };
    const order = Object.entries(pkg.contributes.configuration.properties)
      .sort(([, a], [, b]) => (a.order ?? Infinity) - (b.order ?? Infinity))
      .map(([k]) => k);
    assert.deepEqual(order.slice(0, 2), ['kvzipCode.model', 'kvzipCode.device']);
    assert.ok(
      pkg.contributes.menus['view/title']!.some((m) => m.command === 'kvzipCode.openSettings'),
      'a gear in the view title',
    );
    const config = vscode.workspace.getConfiguration('kvzipCode');
    await config.update('device', 'webgpu', vscode.ConfigurationTarget.Global);
    try {
      assert.equal(api.controller.current.deviceSetting, 'webgpu', 'the header hears of the change at once');
    } finally {
      await config.update('device', 'cpu', vscode.ConfigurationTarget.Global);
    }
    assert.equal(api.controller.current.deviceSetting, 'cpu');
  });

  test('stop ends a running answer', async () => {
    const config = vscode.workspace.getConfiguration('kvzipCode');
    await config.update('maxAnswerTokens', 100_000, vscode.ConfigurationTarget.Global);
    try {
      const asking = api.controller.ask('Tell me a long story about Tom and his boat.');
      await until('the answer to stream', () => (api.controller.turns.at(-1)?.answer.length ?? 0) > 0);
      await vscode.commands.executeCommand('kvzipCode.stop');
      const turn = await asking;
      assert.equal(turn.error, undefined, turn.error);
      assert.equal(turn.cancelled, true, 'the turn says it was stopped');
      assert.equal(api.controller.busy, false);
    } finally {
      await config.update('maxAnswerTokens', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('the engine restarts after a crash and says what happened', async () => {
    await api.controller.ask('Who is Tom?');
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)]).toString();
    const engine = children.split('\n').find((l) => l.includes('engine.js'));
    assert.ok(engine, `the engine runs as a child of the extension host:\n${children}`);
    const crashed = new Promise<string>((r) => api.engine.onCrash(r));
    process.kill(Number(engine.trim().split(/\s+/)[0]), 'SIGKILL');
    assert.match(await crashed, /killed by SIGKILL/);
    const turn = await api.controller.ask('Who is Tom?');
    assert.equal(turn.error, undefined, 'the next request starts a new engine');
    assert.ok(turn.answer.length > 0);
  });

  test('conversations are kept on disk: New Conversation keeps the old one, which opens again and reads on', async () => {
    // Short answers: the tiny model's window leaves little room after the (grown) stories for earlier turns.
    const config = vscode.workspace.getConfiguration('kvzipCode');
    const maxAnswerTokens = config.inspect<number>('maxAnswerTokens')?.globalValue;
    await config.update('maxAnswerTokens', 8, vscode.ConfigurationTarget.Global);
    try {
      api.controller.newConversation();
      const first = await api.controller.ask('Tom and Max');
      assert.equal(first.error, undefined, first.error);
      const id = api.controller.currentConversation;
      assert.equal(api.controller.conversationList()[0]?.id, id, 'the newest conversation is listed first');
      api.controller.newConversation();
      assert.equal(api.controller.turns.length, 0);
      assert.notEqual(api.controller.currentConversation, id);
      assert.ok(api.controller.openConversation(id), 'it opens again');
      assert.deepEqual(
        api.controller.turns.map((t) => t.question),
        ['Tom and Max'],
      );
      const next = await api.controller.ask('The ball');
      assert.equal(next.error, undefined, next.error);
      assert.deepEqual(
        [api.controller.lastAsk?.turnsUsed, api.controller.lastAsk?.turnsDropped],
        [1, 0],
        'the follow-up read the kept turn',
      );
      api.controller.deleteConversation(id);
      assert.ok(!api.controller.conversationList().some((c) => c.id === id));
      assert.equal(api.controller.turns.length, 0, 'deleting the conversation shown starts a new one');
    } finally {
      await config.update('maxAnswerTokens', maxAnswerTokens, vscode.ConfigurationTarget.Global);
    }
  });

  test('a failed build shows in the status bar and the view, with the buttons that fix it, until a build succeeds', async () => {
    const config = vscode.workspace.getConfiguration('kvzipCode');
    const model = config.inspect<string>('model')?.globalValue;
    await config.update('model', path.join(folder(), 'no-such-model'), vscode.ConfigurationTarget.Global);
    try {
      await assert.rejects(api.controller.build());
      const f = api.controller.current.failure;
      assert.ok(f, 'the failure is kept');
      assert.equal(f.what, 'The cache build failed.');
      assert.match(f.message, /no-such-model does not exist/);
      assert.deepEqual(f.actions, ['chooseModel', 'showOutput']);
      assert.match(statusText(api.controller.current).text, /\$\(error\) KVzip: failed/);
    } finally {
      await config.update('model', model, vscode.ConfigurationTarget.Global);
    }
    await api.controller.build();
    assert.equal(api.controller.current.failure, undefined, 'a build that succeeds clears it');
    assert.doesNotMatch(statusText(api.controller.current).text, /failed/);
  });

  test("Show Cache Info's Clear removes one entry; the one in use resets the state", async () => {
    const inUse = api.controller.inUseEntry;
    assert.ok(inUse, 'the last build is the entry in use');
    assert.equal(await api.controller.clearEntry(inUse), 1);
    assert.equal(api.controller.current.state, 'none');
    assert.equal(api.controller.inUseEntry, undefined);
    await api.controller.build();
    assert.equal(api.controller.current.state, 'fresh');
  });

  // The command asks first (a modal dialog; the UI test answers it): here, what it runs once the user agrees.
  test('Clear Workspace Cache removes the entry and resets the state', async () => {
    const removed = await api.controller.clear();
    assert.ok(removed >= 1);
    assert.equal(api.controller.current.state, 'none');
    const entries = await api.controller.info();
    assert.equal(entries.filter((e) => 'workspace' in e && e.workspace === folder()).length, 0);
  });
});
