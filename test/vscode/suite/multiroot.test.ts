// Extension-host tests in a multi-root workspace (run.ts opens the story folder and a second one, notes, through a
// .code-workspace file): every folder goes into the context, each path prefixed with its folder's name, under one
// budget; Show Context previews it; a change in either folder marks the cache stale.
import * as assert from 'node:assert/strict';
import { appendFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KvzipApi } from '../../../src/extension/extension.ts';
import type { ContextPreview } from '../../../src/engine/protocol.ts';
import type { BuildResult } from '../../../src/engine/protocol.ts';

const EXTENSION_ID = 'kvzip-code.kvzip-code';

let api: KvzipApi;

suite('KVzip Code in a multi-root workspace', () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<KvzipApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed`);
    api = await ext.activate();
  });

  test('two folders are open', () => {
    assert.deepEqual(
      vscode.workspace.workspaceFolders?.map((f) => f.name),
      ['stories', 'notes'],
    );
  });

  test('Show Context previews both folders, each path under its folder name, in an editor', async () => {
    const preview = await vscode.commands.executeCommand<ContextPreview | undefined>('kvzipCode.showContext');
    assert.ok(preview, 'the preview returns its result');
    const paths = preview.report.included.map((f) => f.path);
    assert.ok(paths.includes('notes/sam.txt'), paths.join(', '));
    assert.ok(
      paths.some((p) => p.startsWith('stories/')),
      paths.join(', '),
    );
    assert.ok(
      paths.every((p) => p.startsWith('stories/') || p.startsWith('notes/')),
      paths.join(', '),
    );
    assert.equal(preview.report.stats.roots, 2);
    assert.ok(preview.report.totalTokens <= preview.limit.maxTokens, 'one budget for both folders');
    const text = vscode.window.activeTextEditor?.document.getText() ?? '';
    assert.match(text, /^Goes in: \d+ files/m);
    assert.match(text, /notes\/sam\.txt/);
    // Each path links to its file in its own folder.
    const doc = vscode.window.activeTextEditor!.document;
    const links = await vscode.commands.executeCommand<vscode.DocumentLink[]>('vscode.executeLinkProvider', doc.uri);
    const sam = links.find((l) => doc.getText(l.range) === 'notes/sam.txt');
    assert.equal(sam?.target?.fsPath, realpathSync(path.join(vscode.workspace.workspaceFolders![1]!.uri.fsPath, 'sam.txt')));
    for (const p of paths)
      assert.ok(
        links.some((l) => doc.getText(l.range) === p),
        `${p} is a link`,
      );
  });

  test('build takes both folders; a change in the second folder marks the cache stale', async () => {
    const built = (await vscode.commands.executeCommand<BuildResult | undefined>('kvzipCode.build'))!;
    assert.ok(built && built.contextTokens > 0, 'the build returns its result');
    assert.equal(api.controller.current.state, 'fresh');
    const notes = vscode.workspace.workspaceFolders![1]!.uri.fsPath;
    appendFileSync(path.join(notes, 'sam.txt'), 'The kite flew high.\n');
    const state = (): string => api.controller.current.state;
    const end = Date.now() + 15_000;
    while (state() !== 'stale' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.equal(state(), 'stale');
  });
});
