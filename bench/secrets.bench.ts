// Secrets (issue 26, item 2), both figures of the bar:
//   - recall: the realistic corpus of test/unit/secret-corpus.ts (one file per kind, random values drawn now)
//     through the context builder: how many kinds are kept out, and which are not;
//   - false positives: real repositories, fetched as published source archives (npm tarballs, PyPI sdists) and
//     built as a workspace with the default rules: every file kept out as a secret, against a hand review of
//     each one (REVIEW below). A file kept out that the review does not list counts as a false positive until
//     someone reads it.
// Archives are cached under ~/.cache/kvzip-code/bench-repos/secrets (npm pack, pip download: the registries'
// ordinary clients). Writes bench/results/secrets.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildContext } from '../src/context/index.ts';
import { secretCorpus } from '../test/unit/secret-corpus.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(homedir(), '.cache', 'kvzip-code', 'bench-repos', 'secrets');
/** Token counts do not matter here: every file fits, and each one is read and checked. */
const encode = (t: string): Uint8Array => new Uint8Array(t.length >> 2);

interface Source {
  name: string;
  registry: 'npm' | 'pypi';
  spec: string;
  /** Measured only after the rules were settled: the others' flags were read while the rules were tuned. */
  heldOut?: true;
}
// Real multi-file projects with configuration, docs and (the sdists) tests: JavaScript from npm, Python from PyPI.
const SOURCES: Source[] = [
  { name: 'eslint 9.17.0', registry: 'npm', spec: 'eslint@9.17.0' },
  { name: 'webpack 5.97.1', registry: 'npm', spec: 'webpack@5.97.1' },
  { name: 'axios 1.7.9', registry: 'npm', spec: 'axios@1.7.9' },
  { name: 'mongoose 8.9.0', registry: 'npm', spec: 'mongoose@8.9.0' },
  { name: 'Django 5.1.4', registry: 'pypi', spec: 'Django==5.1.4' },
  { name: 'ansible-core 2.17.7', registry: 'pypi', spec: 'ansible-core==2.17.7' },
  { name: 'celery 5.4.0', registry: 'pypi', spec: 'celery==5.4.0' },
  { name: 'fastapi 0.115.6', registry: 'pypi', spec: 'fastapi==0.115.6' },
  { name: 'requests 2.32.3', registry: 'pypi', spec: 'requests==2.32.3' },
  { name: 'Flask 3.1.0', registry: 'pypi', spec: 'Flask==3.1.0' },
  { name: 'typeorm 0.3.20', registry: 'npm', spec: 'typeorm@0.3.20', heldOut: true },
  { name: 'nodemailer 6.9.16', registry: 'npm', spec: 'nodemailer@6.9.16', heldOut: true },
  { name: 'paramiko 3.5.0', registry: 'pypi', spec: 'paramiko==3.5.0', heldOut: true },
  { name: 'httpx 0.28.1', registry: 'pypi', spec: 'httpx==0.28.1', heldOut: true },
];

type Verdict = 'test' | 'docs' | 'clean';
/**
 * Every file these versions have that the default rules keep out as a secret, read by hand. `test`: a credential
 * or key planted for the project's tests; `docs`: an example credential in documentation or a tutorial; `clean`:
 * no credential at all (a false positive).
 */
const REVIEW: Record<string, Record<string, [Verdict, string]>> = {
  'Django 5.1.4': {
    'docs/topics/auth/customizing.txt': ['docs', 'ADMIN_PASSWORD set to an example pbkdf2 hash'],
    'docs/topics/db/multi-db.txt': ['docs', 'example DATABASES "PASSWORD": "superS3cret"'],
    'docs/topics/http/sessions.txt': ['docs', 'example session_key'],
    'tests/auth_tests/fixtures/natural.json': ['test', 'user fixture with a password hash'],
    'tests/auth_tests/fixtures/regular.json': ['test', 'user fixture with a password hash'],
    'tests/csrf_tests/tests.py': ['test', 'TEST_SECRET for CSRF masking'],
    'tests/decorators/test_csrf.py': ['test', 'CSRF_TOKEN literal'],
    'tests/view_tests/tests/test_debug.py': ['test', '"api_key" that the debug page must hide'],
  },
  'ansible-core 2.17.7': {
    'lib/ansible/modules/expect.py': ['docs', 'module docs: password "MySekretPa$$word"'],
    'lib/ansible/plugins/test/uri.yml': ['docs', 'example URL http://nobody:secret@…'],
    'lib/ansible/plugins/test/url.yml': ['docs', 'example URL ftp://admin:secret@…'],
    'test/integration/targets/become_unprivileged/runme.sh': ['test', 'ANSIBLE_BECOME_PASS for test users'],
    'test/integration/targets/become_unprivileged/setup_unpriv_users.yml': ['test', 'test users’ password'],
    'test/integration/targets/filter_encryption/vars/main.yml': ['test', 'vault test passwords'],
    'test/integration/targets/filter_urlsplit/tasks/main.yml': ['test', 'URL with user:password to split'],
    'test/integration/targets/git/vars/main.yml': ['test', 'PGP private key for signed-commit tests'],
    'test/integration/targets/module_utils/module_utils_test.yml': ['test', 'URL with user:pass'],
    'test/integration/targets/module_utils_Ansible.ModuleUtils.SID/tasks/main.yml': ['test', 'test account password'],
    'test/integration/targets/test_uri/tasks/main.yml': ['test', 'URL with admin:secret'],
    'test/units/galaxy/test_role_requirements.py': ['test', 'GitLab deploy token in a role URL'],
    'test/units/module_utils/basic/test_heuristic_log_sanitize.py': ['test', 'URL password the log sanitizer must hide'],
    'test/units/module_utils/urls/fixtures/client.key': ['test', 'TLS client private key'],
    'test/units/module_utils/urls/fixtures/multipart.txt': ['test', 'base64-encoded private key in a multipart body'],
    'test/units/module_utils/urls/test_Request.py': ['test', 'URL with user:passwd'],
    'test/units/parsing/vault/test_vault.py': ['test', 'vault password'],
    'test/units/parsing/yaml/test_dumper.py': ['test', 'vault password'],
    'test/units/parsing/yaml/test_loader.py': ['test', 'vault password'],
    'test/units/parsing/yaml/test_objects.py': ['test', 'vault password'],
    'test/units/plugins/lookup/test_password.py': ['test', 'generated-password fixture'],
  },
  'celery 5.4.0': {
    'docs/history/changelog-2.0.rst': ['docs', 'mysql://scott:tiger@… example'],
    'docs/userguide/configuration.rst': ['docs', 'mysql://scott:tiger@… example'],
    'examples/django/proj/settings.py': ['docs', 'example project’s Django SECRET_KEY'],
    'examples/security/ssl/worker.key': ['docs', 'example worker private key'],
    't/unit/backends/test_mongodb.py': ['test', 'mongodb://user:password@… URL'],
    't/unit/security/__init__.py': ['test', 'RSA private keys for signing tests'],
  },
  'fastapi 0.115.6': Object.fromEntries([
    ...['', '_an', '_an_py310', '_an_py39', '_py310'].map((s) => [
      `docs_src/security/tutorial004${s}.py`,
      ['docs', 'tutorial SECRET_KEY (made with openssl rand -hex 32)'] as [Verdict, string],
    ]),
    ...['', '_an', '_an_py310', '_an_py39', '_py310', '_py39'].flatMap((s) => [
      [`docs_src/security/tutorial005${s}.py`, ['docs', 'tutorial SECRET_KEY'] as [Verdict, string]],
      [`tests/test_tutorial/test_security/test_tutorial005${s}.py`, ['test', 'Bearer JWT'] as [Verdict, string]],
    ]),
  ]),
  'requests 2.32.3': {
    ...Object.fromEntries(
      [
        'expired/ca/ca-private.key',
        'expired/server/server.key',
        'mtls/client/ca/ca-private.key',
        'mtls/client/client.key',
        'valid/ca/ca-private.key',
        'valid/server/server.key',
      ].map((p) => [`tests/certs/${p}`, ['test', 'TLS private key'] as [Verdict, string]]),
    ),
    'tests/test_requests.py': ['test', 'proxy URL with user:pass'],
    'tests/test_utils.py': ['test', 'URL with user:pass'],
  },
  'axios 1.7.9': { 'README.md': ['docs', 'example auth password "s00pers3cret"'] },
  'typeorm 0.3.20': { 'commands/InitCommand.js': ['docs', 'the default password ("Admin12345") written into new projects’ config'] },
  'paramiko 3.5.0': {
    'demos/user_rsa_key': ['docs', 'demo RSA private key'],
    'demos/test_rsa.key': ['docs', 'demo RSA private key'],
    'tests/test_pkey.py': ['test', 'RSA private keys'],
    ...Object.fromEntries(
      [
        '_support/dss.key',
        '_support/ecdsa-256.key',
        '_support/ed25519.key',
        '_support/ed448.key',
        '_support/rsa-lonely.key',
        '_support/rsa.key',
        'badhash_key1.ed25519.key',
        'badhash_key2.ed25519.key',
        'blank_rsa.key',
        'test_dss_openssh.key',
        'test_dss_password.key',
        'test_ecdsa_384.key',
        'test_ecdsa_384_openssh.key',
        'test_ecdsa_521.key',
        'test_ecdsa_password_256.key',
        'test_ecdsa_password_384.key',
        'test_ecdsa_password_521.key',
        'test_ed25519-funky-padding.key',
        'test_ed25519-funky-padding_password.key',
        'test_ed25519_password.key',
        'test_rsa_openssh.key',
        'test_rsa_openssh_nopad.key',
        'test_rsa_password.key',
      ].map((p) => [`tests/${p}`, ['test', 'SSH private key'] as [Verdict, string]]),
    ),
  },
  'httpx 0.28.1': {
    'httpx/_urls.py': ['docs', 'docstring example URL with user:password ("a%20secret")'],
    'tests/fixtures/.netrc': ['test', 'netrc with example login and password'],
    'tests/client/test_auth.py': ['test', 'Basic credentials'],
    'tests/client/test_event_hooks.py': ['test', 'Basic credentials'],
    'tests/client/test_headers.py': ['test', 'Basic credentials'],
    'tests/models/test_url.py': ['test', 'URL with user:password'],
    'tests/models/whatwg.json': ['test', 'URL test data with user:pass'],
    'tests/test_main.py': ['test', 'Basic credentials'],
  },
  'Flask 3.1.0': {
    'docs/config.rst': ['docs', 'example SECRET_KEY'],
    'docs/tutorial/deploy.rst': ['docs', 'example SECRET_KEY'],
    'tests/test_apps/.env': ['clean', 'a dotenv fixture with FOO/SPAM/EGGS: kept out by its name, holds no secret'],
  },
};

function sh(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
}

/** The unpacked source tree of `s`, fetched once. */
function fetchSource(s: Source): string {
  const dir = join(CACHE, s.spec.replace(/[^\w.@=-]/g, '_'));
  const tree = join(dir, 'tree');
  if (!existsSync(tree)) {
    const tmp = mkdtempSync(join(tmpdir(), 'kvzip-secrets-'));
    try {
      if (s.registry === 'npm') sh('npm', ['pack', s.spec, '--silent', '--pack-destination', tmp], tmp);
      else sh('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '--no-binary', ':all:', s.spec, '-d', tmp], tmp);
      const archive = readdirSync(tmp).find((f) => /\.(?:tgz|tar\.gz)$/.test(f));
      if (!archive) throw new Error(`${s.spec}: no archive came back from ${s.registry}`);
      mkdirSync(join(tmp, 'x'));
      sh('tar', ['xzf', join(tmp, archive), '-C', join(tmp, 'x')], tmp);
      mkdirSync(dir, { recursive: true });
      renameSync(join(tmp, 'x'), tree);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  // npm tarballs hold package/, sdists name-version/: the one folder inside is the project.
  const [top] = readdirSync(tree);
  return join(tree, top!);
}

const started = new Date();
const t0 = performance.now();

// ---------------------------------------------------------------------------------------------- recall
const corpus = secretCorpus();
const corpusRoot = mkdtempSync(join(tmpdir(), 'kvzip-secret-corpus-'));
for (const k of corpus) {
  mkdirSync(dirname(join(corpusRoot, k.path)), { recursive: true });
  writeFileSync(join(corpusRoot, k.path), k.text);
}
const corpusCtx = await buildContext(corpusRoot, { encode, discovery: 'walk' });
rmSync(corpusRoot, { recursive: true, force: true });
const leaked = corpus.filter((k) => {
  const o = corpusCtx.omitted.find((x) => x.path === k.path);
  return o?.reason !== 'secret' || k.values.some((v) => corpusCtx.text.includes(v));
});
const recall = {
  kinds: corpus.length,
  keptOut: corpus.length - leaked.length,
  reachingContext: leaked.map((k) => `${k.kind} (${k.path})`),
};
console.error(
  `corpus: ${recall.keptOut}/${recall.kinds} kinds kept out${leaked.length ? `; not: ${recall.reachingContext.join(', ')}` : ''}`,
);

// ------------------------------------------------------------------------------------------ false positives
const repos = [];
const rows: unknown[][] = [];
const unreviewedAll: string[] = [];
for (const s of SOURCES) {
  const root = fetchSource(s);
  const start = performance.now();
  const ctx = await buildContext(root, { encode, discovery: 'walk', maxTokens: Number.MAX_SAFE_INTEGER });
  const seconds = (performance.now() - start) / 1000;
  const keptOut = ctx.omitted.filter((o) => o.reason === 'secret');
  // Every file that reached the secret check: those in the context, those it kept out, and those left out after
  // it (generated by content); minified or oversized files never reach it.
  const checked =
    ctx.files.length +
    ctx.omitted.filter((o) => o.reason === 'secret' || (o.reason === 'generated' && o.detail !== 'minified bundle or source map')).length;
  const review = REVIEW[s.name] ?? {};
  const count = { test: 0, docs: 0, clean: 0, unreviewed: 0 };
  const files = keptOut.map((o) => {
    const r = review[o.path];
    if (r) count[r[0]]++;
    else {
      count.unreviewed++;
      unreviewedAll.push(`${s.name}: ${o.path} (${o.detail})`);
    }
    return { path: o.path, detail: o.detail, review: r ? `${r[0]}: ${r[1]}` : 'unreviewed' };
  });
  const stale = Object.keys(review).filter((p) => !keptOut.some((o) => o.path === p));
  const clean = checked - count.test - count.docs;
  const falsePositives = count.clean + count.unreviewed;
  const rate = falsePositives / Math.max(1, clean);
  repos.push({
    name: s.name,
    registry: s.registry,
    spec: s.spec,
    heldOut: s.heldOut ?? false,
    checked,
    keptOut: keptOut.length,
    ...count,
    cleanFiles: clean,
    falsePositives,
    falsePositiveRate: +rate.toFixed(5),
    seconds: +seconds.toFixed(1),
    files,
    noLongerKeptOut: stale,
  });
  rows.push([
    s.heldOut ? `${s.name} (held out)` : s.name,
    s.registry,
    checked,
    keptOut.length,
    count.test,
    count.docs,
    falsePositives,
    `${(rate * 100).toFixed(2)}%`,
    +seconds.toFixed(1),
  ]);
  console.error(
    `${s.name}: ${checked} checked, ${keptOut.length} kept out (${count.test} test, ${count.docs} docs, ${count.clean} clean, ${count.unreviewed} unreviewed) in ${seconds.toFixed(1)} s`,
  );
}
const total = repos.reduce(
  (a, r) => ({
    checked: a.checked + r.checked,
    keptOut: a.keptOut + r.keptOut,
    test: a.test + r.test,
    docs: a.docs + r.docs,
    fp: a.fp + r.falsePositives,
    clean: a.clean + r.cleanFiles,
  }),
  { checked: 0, keptOut: 0, test: 0, docs: 0, fp: 0, clean: 0 },
);
const worst = Math.max(...repos.map((r) => r.falsePositiveRate));
rows.push([
  '**all**',
  '',
  total.checked,
  total.keptOut,
  total.test,
  total.docs,
  total.fp,
  `${((total.fp / total.clean) * 100).toFixed(2)}%`,
  '',
]);

const results = {
  bench: 'secrets',
  startedAt: started.toISOString(),
  totalSeconds: +((performance.now() - t0) / 1000).toFixed(1),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  recall,
  repos,
  falsePositiveRate: +(total.fp / total.clean).toFixed(5),
  worstRepoFalsePositiveRate: worst,
  unreviewed: unreviewedAll,
  tables: [
    {
      title: 'Secret kinds kept out (random values drawn by test/unit/secret-corpus.ts at this run)',
      columns: ['kinds', 'kept out', 'share', 'reaching the context'],
      rows: [
        [
          recall.kinds,
          recall.keptOut,
          `${((recall.keptOut / recall.kinds) * 100).toFixed(1)}%`,
          recall.reachingContext.join('; ') || 'none',
        ],
      ],
    },
    {
      title: 'Files kept out as secrets in real repositories (published source archives), each read by hand',
      columns: [
        'repository',
        'from',
        'files checked',
        'kept out',
        'test credentials or keys',
        'docs examples',
        'false positives',
        'false-positive rate',
        'seconds',
      ],
      rows,
      notes: [
        'False-positive rate: files kept out that hold no credential (or that no one has reviewed yet), over the files that hold none. ' +
          'Test credentials (keys, passwords and tokens planted for tests) and example credentials in docs are kept out as they should be: ' +
          'they read as secrets, and each is listed with its reason in bench/results/secrets.json. ' +
          'Held out: measured only once the rules were settled; the rules were tuned while reading the other repositories’ flags.',
      ],
    },
  ],
};
mkdirSync(join(repo, 'bench', 'results'), { recursive: true });
writeFileSync(join(repo, 'bench', 'results', 'secrets.json'), JSON.stringify(results, null, 1) + '\n');
for (const u of unreviewedAll) console.error(`unreviewed: ${u}`);
console.log(
  `recall ${recall.keptOut}/${recall.kinds}; false positives ${total.fp}/${total.clean} clean files (${((total.fp / total.clean) * 100).toFixed(2)}%), worst repository ${(worst * 100).toFixed(2)}%`,
);
