// Bar 2: secrets never reach the context by default (the cache would persist them), and the opt-in works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext } from '../../src/context/index.ts';
import { charEncode, commit, gitInit, tempDir, write } from './context-fixtures.ts';

// Assembled at run time so this test file does not itself look like it holds a key.
const KEY_HEADER = ['-----BEGIN', 'OPENSSH PRIVATE', 'KEY-----'].join(' ');
const RSA_HEADER = ['-----BEGIN', 'RSA PRIVATE', 'KEY-----'].join(' ');

/** Each secret file carries a unique marker that must never show up in the context text. */
const SECRETS: Record<string, string> = {
  '.env': 'API_KEY=MARK_env',
  '.env.local': 'TOKEN=MARK_env_local',
  '.env.production': 'DB=MARK_env_prod',
  'config/.envrc': 'export X=MARK_envrc',
  'certs/server.pem': 'MARK_pem',
  'certs/server.key': 'MARK_key',
  'certs/client.p12': 'MARK_p12',
  '.ssh/id_rsa': 'MARK_id_rsa',
  'keys/id_rsa.pub': 'ssh-rsa MARK_id_rsa_pub',
  'keys/id_ed25519': 'MARK_ed25519',
  'home/.netrc': 'machine x login y password MARK_netrc',
  '.pgpass': 'host:5432:db:user:MARK_pgpass',
  'gcp/credentials.json': '{"secret":"MARK_credentials_json"}',
  '.git-credentials': 'https://u:MARK_gitcred@example.com',
  '.aws/credentials': '[default]\naws_secret_access_key=MARK_aws',
  '.npmrc': '//registry.npmjs.org/:_authToken=MARK_npmrc\n',
  'client_secret_123.json': '{"MARK_client_secret":1}',
  'src/deploy_key.txt': `${KEY_HEADER}\nMARK_content_key\n-----END OPENSSH PRIVATE KEY-----\n`,
  'src/legacy.go': `package main\nconst k = \`${RSA_HEADER}\nMARK_inline_rsa\n\`\n`,
  'src/tokens.ts': `export const t = 'ghp_${'a'.repeat(36)}'; // MARK_github_token\n`,
};
const SAFE: Record<string, string> = {
  'src/app.ts': 'export const app = 1; // SAFE_app\n',
  'web/.npmrc': 'registry=https://registry.npmjs.org/ # SAFE_npmrc\n',
  'docs/environment.md': 'Set the .env file yourself. SAFE_doc\n',
};

function markers(text: string): string[] {
  return [...text.matchAll(/MARK_\w+/g)].map((m) => m[0]);
}

for (const mode of ['git', 'walk'] as const) {
  test(`${mode}: default secret patterns never reach the context, each is reported`, async (t) => {
    const root = tempDir(t);
    write(root, { ...SECRETS, ...SAFE });
    if (mode === 'git') {
      gitInit(root);
      commit(root, 1);
    }
    const ctx = await buildContext(root, { encode: charEncode, discovery: mode });
    assert.deepEqual(markers(ctx.text), []);
    const secret = new Set(ctx.omitted.filter((o) => o.reason === 'secret').map((o) => o.path));
    assert.deepEqual([...secret].sort(), Object.keys(SECRETS).sort());
    for (const s of ['SAFE_app', 'SAFE_npmrc', 'SAFE_doc']) assert.ok(ctx.text.includes(s), s);
  });
}

test('includeSecrets opts in: every secret file is in the context', async (t) => {
  const root = tempDir(t);
  write(root, { ...SECRETS, ...SAFE });
  const ctx = await buildContext(root, { encode: charEncode, includeSecrets: true, discovery: 'walk' });
  const expected = Object.values(SECRETS).flatMap(markers).sort();
  assert.deepEqual(markers(ctx.text).sort(), expected);
  assert.equal(ctx.omitted.filter((o) => o.reason === 'secret').length, 0);
});

test('a secret over the budget is still reported as omitted and absent', async (t) => {
  const root = tempDir(t);
  write(root, { '.env': 'MARK_x', 'a.ts': 'a' });
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: 20, discovery: 'walk' });
  assert.deepEqual(markers(ctx.text), []);
  assert.ok(ctx.omitted.some((o) => o.path === '.env'));
});
