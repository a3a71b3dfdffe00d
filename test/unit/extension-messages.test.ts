// The extension host's checks on what the sidebar webview sends: the webview renders model output, so it is untrusted.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseViewMessage } from '../../src/webview/messages.ts';
import { resolveWorkspaceFile } from '../../src/extension/links.ts';

test('parseViewMessage accepts exactly the known shapes', () => {
  assert.deepEqual(parseViewMessage({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseViewMessage({ type: 'ask', question: 'why?' }), { type: 'ask', question: 'why?' });
  assert.deepEqual(parseViewMessage({ type: 'openFile', path: 'a.ts', line: 3 }), { type: 'openFile', path: 'a.ts', line: 3 });
  assert.deepEqual(parseViewMessage({ type: 'openLink', href: 'https://example.com/x' }), {
    type: 'openLink',
    href: 'https://example.com/x',
  });
  assert.deepEqual(parseViewMessage({ type: 'command', command: 'chooseModel' }), { type: 'command', command: 'chooseModel' });
  assert.deepEqual(parseViewMessage({ type: 'command', command: 'openSettings', setting: 'kvzipCode.maxContextTokens' }), {
    type: 'command',
    command: 'openSettings',
    setting: 'kvzipCode.maxContextTokens',
  });
  assert.deepEqual(parseViewMessage({ type: 'openConversation', id: 'cmj0abc12def' }), { type: 'openConversation', id: 'cmj0abc12def' });
  assert.deepEqual(parseViewMessage({ type: 'dropAttachment' }), { type: 'dropAttachment' });
  assert.deepEqual(parseViewMessage({ type: 'dismissFailure' }), { type: 'dismissFailure' });
  for (const bad of [
    null,
    'ask',
    [],
    { type: 'eval', code: '1' },
    { type: 'ready', extra: 1 },
    { type: 'ask', question: '   ' },
    { type: 'ask', question: 'x'.repeat(20_001) },
    { type: 'ask', question: 42 },
    { type: 'openFile', path: 'a.ts', line: 0 },
    { type: 'openFile', path: 'a.ts', line: 1.5 },
    { type: 'openFile', path: 'a\0b' },
    { type: 'openFile', path: '' },
    { type: 'openLink', href: 'javascript:alert(1)' },
    { type: 'openLink', href: 'command:workbench.action.quit' },
    { type: 'openLink', href: 'file:///etc/passwd' },
    // The sidebar runs only its own few commands, opens the settings at one of ours, and names kept conversations by id.
    { type: 'command', command: 'workbench.action.quit' },
    { type: 'command', command: 'showOutput', setting: 'kvzipCode.model' },
    { type: 'command', command: 'openSettings', setting: 'editor.fontSize' },
    { type: 'command', command: 'openSettings', setting: 'kvzipCode.x"; rm' },
    { type: 'openConversation', id: '../../etc/passwd' },
    { type: 'openConversation', id: 'c1' },
    { type: 'dropAttachment', id: 1 },
  ]) {
    assert.equal(parseViewMessage(bad), undefined, JSON.stringify(bad));
  }
});

test('resolveWorkspaceFile keeps links inside the workspace, symlinks included', async () => {
  const base = realpathSync(mkdtempSync(path.join(tmpdir(), 'kvzip-links-')));
  const ws = path.join(base, 'ws');
  mkdirSync(path.join(ws, 'src'), { recursive: true });
  writeFileSync(path.join(ws, 'src', 'a.ts'), 'x');
  writeFileSync(path.join(base, 'outside.txt'), 'secret');
  symlinkSync(path.join(base, 'outside.txt'), path.join(ws, 'link.txt'));
  assert.equal(await resolveWorkspaceFile([ws], 'src/a.ts'), path.join(ws, 'src', 'a.ts'));
  assert.equal(await resolveWorkspaceFile([ws], './src/a.ts'), path.join(ws, 'src', 'a.ts'));
  assert.equal(await resolveWorkspaceFile([ws], path.join(ws, 'src', 'a.ts')), path.join(ws, 'src', 'a.ts'));
  assert.equal(await resolveWorkspaceFile([ws], '../outside.txt'), undefined);
  assert.equal(await resolveWorkspaceFile([ws], path.join(base, 'outside.txt')), undefined);
  assert.equal(await resolveWorkspaceFile([ws], 'link.txt'), undefined, 'a symlink out of the workspace');
  assert.equal(await resolveWorkspaceFile([ws], 'src'), undefined, 'a folder is not a file');
  assert.equal(await resolveWorkspaceFile([ws], 'missing.ts'), undefined);
  assert.equal(await resolveWorkspaceFile([ws], 'file:///etc/passwd'), undefined);
  // A name that merely starts with two dots is inside (issue 13).
  writeFileSync(path.join(ws, '..foo.txt'), 'x');
  mkdirSync(path.join(ws, '..config'));
  writeFileSync(path.join(ws, '..config', 'a.txt'), 'x');
  assert.equal(await resolveWorkspaceFile([ws], '..foo.txt'), path.join(ws, '..foo.txt'));
  assert.equal(await resolveWorkspaceFile([ws], '..config/a.txt'), path.join(ws, '..config', 'a.txt'));
  assert.equal(await resolveWorkspaceFile([ws], '../ws/../outside.txt'), undefined);
});
