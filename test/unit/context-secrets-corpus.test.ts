// Issue 26, item 2: realistic secrets stay out of the context (at least 95% of kinds, each kind one file with
// values drawn at random by secret-corpus.ts), and the clean shapes that look like them stay in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext } from '../../src/context/index.ts';
import { charEncode, tempDir, write } from './context-fixtures.ts';
import { secretCorpus } from './secret-corpus.ts';

test('at least 95% of realistic secret kinds are kept out, and the report never holds a secret', async (t) => {
  const corpus = secretCorpus();
  const root = tempDir(t);
  write(root, Object.fromEntries(corpus.map((k) => [k.path, k.text])));
  assert.equal(new Set(corpus.map((k) => k.path)).size, corpus.length, 'one file per kind');
  const ctx = await buildContext(root, { encode: charEncode, discovery: 'walk' });

  const leaked = corpus.filter((k) => {
    const omitted = ctx.omitted.find((o) => o.path === k.path);
    return omitted?.reason !== 'secret' || k.values.some((v) => ctx.text.includes(v));
  });
  for (const k of leaked) t.diagnostic(`reaches the context: ${k.kind} (${k.path})`);
  const keptOut = corpus.length - leaked.length;
  t.diagnostic(`${keptOut} of ${corpus.length} kinds kept out`);
  assert.ok(
    keptOut >= 0.95 * corpus.length,
    `${keptOut}/${corpus.length} kept out; reaching the context: ${leaked.map((k) => k.kind).join(', ')}`,
  );

  const report = JSON.stringify(ctx.omitted);
  for (const k of corpus) for (const v of k.values) assert.ok(!report.includes(v), `the report shows a secret of ${k.kind}`);
});

/**
 * Shapes seen in real repositories (Django, requests, ansible-core, celery, webpack) and in everyday config, each
 * of which a keyword or pattern rule once took for a secret: none is one.
 */
const CLEAN: Record<string, string> = {
  'django/base_user.py': 'class AbstractBaseUser(models.Model):\n    password = models.CharField(_("password"), max_length=128)\n',
  'requests/adapters.py': 'username, password = get_auth_from_url(proxy)\npassword = str(password)\n',
  'django/forms.py': 'field_order = ["old_password", "new_password1", "new_password2"]\n',
  'django/migrations/0003_alter.py': 'dependencies = [\n    ("auth", "0002_alter_permission_name_max_length"),\n]\n',
  'django/session.py': 'BACKEND_SESSION_KEY = "_auth_user_backend"\n',
  'ansible/manager.py': "self._omit_token = '__omit_place_holder__%s' % sha1(os.urandom(64)).hexdigest()\n",
  'ansible/runme.py': "display.show(f'PASS: {result.scenario}{notes}')\n",
  'ansible/test_ohai.py': '{"key": "/home/some_user/virt-images/packer-windows-2012-R2-standard"}\n',
  'bin/ansible-vault':
    '#!/usr/bin/env python\nencrypt_secret = match_encrypt_secret(vault_secrets,\n    encrypt_vault_id=encrypt_vault_id)\n',
  'README.md': '[cover]: https://codecov.io/gh/webpack/webpack/branch/main/graph/badge.svg?token=mDP3mQJNnn\n',
  'fastapi/security.py': 'username, separator, password = data.partition(":")\n',
  'tutorial.py': 'fake_users_db = {"johndoe": {"hashed_password": "fakehashedsecret2"}}\n',
  'charts/app/templates/secret.yaml':
    'apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  password: {{ .Values.password | b64enc | quote }}\n',
  'k8s/configmap.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  LOG_LEVEL: debug\n  API_URL: https://api.example.com\n',
  'k8s/deployment.yaml':
    'env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\nvolumes:\n  - secret:\n      secretName: tls-cert\n',
  'locales/de.yml': 'login:\n  password: Passwort\n  password_hint: Mindestens acht Zeichen\n',
  'locales/fr.yml': 'password: Mot de passe\n',
  'api/openapi.yaml':
    'components:\n  schemas:\n    Login:\n      properties:\n        password:\n          type: string\n          format: password\n',
  'src/types.ts': 'export interface Login {\n  password: string;\n  token?: AccessToken;\n}\n',
  'docker-compose.yml': 'services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n      - API_TOKEN=$API_TOKEN\n',
  'src/main/resources/application.properties': 'spring.datasource.password=${DB_PASSWORD}\nserver.port=8080\n',
  'setup.cfg': '[db]\npassword = %(db_password)s\n',
  'settings.xml': '<server>\n  <password>${env.MAVEN_PASSWORD}</password>\n</server>\n',
  'src/api.ts': 'const headers = { Authorization: `Bearer ${token}`, "X-API-Key": apiKey };\n',
  'config/app.ini': '[auth]\ntoken_url = https://auth.example.com/oauth/token\npassword_file = /run/secrets/db_password\n',
  'docs/configuration.md': 'Set `password: <your-password>` and `api_key: YOUR_API_KEY` in your config.\n',
  'src/cache.py': 'cache_key = "entries/current/manifest.json"\nsecret_name = "prod/db/credentials"\n',
  'certs/ca.pem': '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUK3zJ\n-----END CERTIFICATE-----\n',
};

test('clean files that look like secrets stay in the context', async (t) => {
  const root = tempDir(t);
  write(root, CLEAN);
  const ctx = await buildContext(root, { encode: charEncode, discovery: 'walk' });
  const secret = ctx.omitted.filter((o) => o.reason === 'secret').map((o) => `${o.path}: ${o.detail}`);
  assert.deepEqual(secret, []);
  assert.equal(ctx.files.length, Object.keys(CLEAN).length);
});
