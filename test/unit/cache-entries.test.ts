// The cache list's words (Show Cache Info) and the Clear confirmations: what each entry is to the open workspace,
// and what a Clear loses, with the build time where the entry knows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clearEntryQuestion,
  clearWorkspaceQuestion,
  entryItem,
  modelName,
  sizeText,
  type EntryFacts,
} from '../../src/extension/cacheEntries.ts';
import type { UsableEntryInfo } from '../../src/engine/protocol.ts';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const HF = '/home/me/.cache/huggingface/hub/models--Qwen--Qwen2.5-Coder-1.5B-Instruct/snapshots/2e1fd397ee46e1388853d2af2c993145b0f1098a';

function entry(over: Partial<UsableEntryInfo> = {}): UsableEntryInfo {
  return {
    entry: '/cache/entries/k1/g3',
    workspace: '/src/app',
    model: '/cache/models/m1',
    modelPath: HF,
    ratio: 0.3,
    level: 'pair',
    scoring: 'exact',
    contextTokens: 30_512,
    bytes: 431 * 2 ** 20,
    kvBytesFull: 0,
    kvBytesCompressed: 0,
    createdAt: '2026-05-01T09:00:00Z',
    lastUsedAt: '2026-05-01T11:00:00Z',
    buildMs: 3_100_000,
    ...over,
  };
}

test('each entry: its model, size, tokens and age, and whether it is the one in use, fresh or stale', () => {
  const facts = (state: 'fresh' | 'stale'): EntryFacts => ({
    workspace: '/src/app',
    inUse: { entry: '/cache/entries/k1/g2', state },
    now: NOW,
  });
  // A refresh moved the entry to generation g3 since the record of g2: it is still the entry in use.
  const fresh = entryItem(entry(), facts('fresh'));
  assert.deepEqual(fresh, {
    label: 'Qwen2.5-Coder-1.5B-Instruct',
    description: '431 MiB · 30,512 tokens · built 3 h ago',
    detail: 'Fresh · in use for this workspace (ratio 0.3, pair)',
    state: 'fresh',
  });
  assert.equal(entryItem(entry(), facts('stale')).state, 'stale');
  assert.match(entryItem(entry(), facts('stale')).detail, /^Stale · in use for this workspace; files changed since it was built/);
  const other = entryItem(entry({ entry: '/cache/entries/k2/g1', ratio: 0.5, scoring: 'local' }), facts('fresh'));
  assert.equal(other.detail, 'This workspace, other settings (ratio 0.5, pair, local scoring): not in use now');
  const elsewhere = entryItem(
    entry({ entry: '/cache/entries/k3/g1', workspace: '/src/lib', modelPath: '/models/tiny.Q4_K_M.gguf' }),
    facts('fresh'),
  );
  assert.equal(elsewhere.label, 'tiny.Q4_K_M');
  assert.equal(elsewhere.detail, 'Another workspace: /src/lib (ratio 0.3, pair)');
  const broken = entryItem({ entry: '/cache/entries/k4/g1', bytes: 5000, problem: 'checksum mismatch' }, facts('fresh'));
  assert.deepEqual([broken.label, broken.description, broken.state], ['k4', '5 KiB', 'unusable']);
  assert.match(broken.detail, /^Cannot be used: checksum mismatch/);
});

test('Clear on one entry names it, its size and how long its build took', () => {
  const q = clearEntryQuestion(entry());
  assert.equal(q.message, 'Delete the KVzip cache of Qwen2.5-Coder-1.5B-Instruct for app?');
  assert.equal(
    q.detail,
    'Qwen2.5-Coder-1.5B-Instruct (431 MiB, 30,512 tokens, built in 52 min). Using it again means building it again: 52 min last time.',
  );
  // A refreshed generation does not know what a whole build costs: nothing is claimed.
  const { buildMs: _b, ...refreshed } = entry();
  assert.equal(
    clearEntryQuestion(refreshed).detail,
    'Qwen2.5-Coder-1.5B-Instruct (431 MiB, 30,512 tokens). Using it again means building it again.',
  );
  assert.match(clearEntryQuestion({ entry: '/c/entries/k/g', bytes: 1, problem: 'unreadable' }).detail, /nothing is lost/);
});

test('Clear Workspace Cache names every entry that goes and the longest build; it does not ask when nothing is lost', () => {
  assert.equal(clearWorkspaceQuestion([]), undefined);
  const q = clearWorkspaceQuestion([
    entry(),
    entry({ modelPath: '/models/stories260K', bytes: 300_000, contextTokens: 400, buildMs: 2_000 }),
  ])!;
  assert.equal(q.message, 'Delete the KVzip cache of this workspace?');
  assert.equal(
    q.detail,
    'Its 2 caches: Qwen2.5-Coder-1.5B-Instruct (431 MiB, 30,512 tokens, built in 52 min); stories260K (293 KiB, 400 tokens, built in 2 s). ' +
      'The next question builds it again, which took 52 min last time.',
  );
});

test('names and sizes', () => {
  assert.equal(modelName('/models/Llama-3.2-1B-Instruct'), 'Llama-3.2-1B-Instruct');
  assert.equal(sizeText(1.5 * 2 ** 30), '1.5 GiB');
  assert.equal(sizeText(3.25 * 2 ** 20), '3.3 MiB');
});
