// Bar 2: secrets never reach the context by default (the cache would persist them), and the opt-in works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext } from '../../src/context/index.ts';
import { secretContentVerdict } from '../../src/context/secrets.ts';
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
  'certs/server.pem': `${RSA_HEADER}\nMARK_pem\n`,
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
  // A .pem is kept out for a private key only: a certificate is public.
  'certs/ca.pem': '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUSAFE_cert\n-----END CERTIFICATE-----\n',
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
    for (const s of ['SAFE_app', 'SAFE_npmrc', 'SAFE_doc', 'SAFE_cert']) assert.ok(ctx.text.includes(s), s);
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

// Issue 13: what the hand list let through. Values are assembled at run time for the same reason as above; each
// has the shape its provider issues (a real key would be caught the same way).
const alnum = (n: number, seed: number): string => {
  const abc = 'A7bC9dE2fG4hJ6kL8mN1pQ3rS5tU0vW';
  return Array.from({ length: n }, (_, i) => abc[(i * 7 + seed) % abc.length]).join('');
};
const AWS_SECRET = `${alnum(20, 1)}/${alnum(19, 2)}`;
const MISSED: Record<string, { text: string; rule: string }> = {
  'src/billing.ts': { text: `const stripe = '${'sk_'}live_${alnum(24, 3)}'; // MARK_stripe\n`, rule: 'kvzip/stripe-key' },
  'src/dns.ts': { text: `const cf = '${'cfut'}_${alnum(40, 12)}${'0123abcd'}'; // MARK_cloudflare\n`, rule: 'kvzip/cloudflare-token' },
  'vpn/join.sh': {
    text: `tailscale up --auth-key=${'tskey'}-auth-${alnum(12, 13)}-${alnum(30, 14)} # MARK_tailscale\n`,
    rule: 'kvzip/tailscale-key',
  },
  'web/maps.js': { text: `const key = "${'AIza'}${alnum(35, 4)}"; // MARK_google\n`, rule: 'kvzip/google-api-key' },
  'ci/deploy.sh': { text: `TOKEN=${'glpat'}-${alnum(20, 5)} # MARK_gitlab\n`, rule: '@secretlint/secretlint-rule-gitlab' },
  'ai/client.py': {
    text: `key = "${'sk-'}proj-${alnum(74, 6)}${'T3Blbk'}FJ${alnum(74, 7)}"  # MARK_openai\n`,
    rule: '@secretlint/secretlint-rule-openai',
  },
  'src/aws.js': { text: `const AWS_SECRET_ACCESS_KEY = "${AWS_SECRET}"; // MARK_aws_js\n`, rule: '@secretlint/secretlint-rule-aws' },
  'src/upload.js': { text: `const s3 = { region: 'eu-west-1', awsKey: '${AWS_SECRET}' }; // MARK_aws_key\n`, rule: 'kvzip/key-assignment' },
  'aws/credentials': {
    text: `[default]\naws_access_key_id = ${'ASIA'}${alnum(16, 8).toUpperCase()}\naws_secret_access_key = ${AWS_SECRET}\n# MARK_aws_credentials\n`,
    rule: '@secretlint/secretlint-rule-aws',
  },
  'notes/session.txt': {
    text: `temporary key ${'ASIA'}${alnum(16, 9).toUpperCase()} MARK_asia\n`,
    rule: '@secretlint/secretlint-rule-aws',
  },
  'app/db.py': {
    text: `DATABASE_URL = "${'postgres'}://app:${alnum(12, 10)}@db.internal:5432/app"  # MARK_postgres\n`,
    rule: '@secretlint/secretlint-rule-database-connection-string',
  },
  'infra/terraform.tfstate': { text: '{"version": 4, "resources": [] , "MARK_tfstate": 1}\n', rule: 'name' },
  'mysite/settings.py': { text: `DEBUG = False\npassword = "${alnum(14, 11)}"  # MARK_settings\n`, rule: 'kvzip/password-assignment' },
};
const STILL_SAFE: Record<string, string> = {
  'src/login.py': 'password = os.environ["DB_PASSWORD"]  # SAFE_env_lookup\n',
  'src/form.ts': 'const label = "Password:"; const secret = ""; // SAFE_form\n',
  'src/conf.js': 'const apiKey = `${process.env.KEY}`; // SAFE_template\n',
  'src/cache.ts': "const cacheKey = 'workspace/entries/current/manifest-json'; // SAFE_key_path\n",
};

test('secrets the hand list missed stay out, and the report names the rule', async (t) => {
  const root = tempDir(t);
  write(root, { ...Object.fromEntries(Object.entries(MISSED).map(([p, s]) => [p, s.text])), ...STILL_SAFE });
  const ctx = await buildContext(root, { encode: charEncode, discovery: 'walk' });
  assert.deepEqual(markers(ctx.text), []);
  for (const [path, { rule }] of Object.entries(MISSED)) {
    const o = ctx.omitted.find((x) => x.path === path);
    assert.equal(o?.reason, 'secret', `${path} is left out as a secret`);
    // The detail is the rule, its message id and the line: never the secret itself.
    if (rule !== 'name')
      assert.match(o.detail ?? '', new RegExp(`^rule ${rule.replace(/[/-]/g, '\\$&')}( \\(\\w+\\))? matched at line \\d+$`), path);
  }
  for (const s of ['SAFE_env_lookup', 'SAFE_form', 'SAFE_template', 'SAFE_key_path']) assert.ok(ctx.text.includes(s), s);
});

test('names that merely mention a secret are not secrets', async () => {
  assert.equal(await secretContentVerdict('src/models.ts', "export const HF_TOKEN_SECRET = 'kvzipCode.huggingFaceToken';\n"), undefined);
  assert.equal(await secretContentVerdict('src/a.ts', "const passwordField = 'password'; const tokenKind = 'bearer-token';\n"), undefined);
  assert.equal(await secretContentVerdict('src/a.ts', "const cacheKey = 'entries/current/manifest.json';\n"), undefined);
});

test('checking files leaves no profiler marks behind (secretlint would keep one per rule per file)', async () => {
  const before = performance.getEntriesByType('mark').length;
  for (let i = 0; i < 20; i++) await secretContentVerdict(`src/f${i}.ts`, `export const f${i} = ${i};\n`);
  assert.equal(performance.getEntriesByType('mark').length, before);
});
