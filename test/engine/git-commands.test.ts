// Issue 26, item 3: a workspace's git configuration never makes `context`, `build` or `ask` start a program.
// A real repository in a temporary folder, armed with every setting that runs a command during the git calls the
// context builder makes (src/context/git.ts lists them), each pointing at a script that writes a marker line;
// the real CLI and engine processes with stories260K on the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORIES, cli, skipWithoutStories as skip, storyWorkspace } from '../support/cli.ts';

const run = (cwd: string, args: string[], input?: string): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'core.hooksPath=/dev/null', ...args], {
    cwd,
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'ignore'],
  });

/** A partial clone whose history is armed; returns the work tree and the marker log every script writes to. */
function armedRepository(root: string): { ws: string; log: string } {
  const log = join(root, 'ran.log');
  const script = (label: string, tail = 'exit 1'): string => {
    const f = join(root, `${label}.sh`);
    writeFileSync(f, `#!/bin/sh\necho ${label} >> '${log}'\n${tail}\n`);
    chmodSync(f, 0o755);
    return f;
  };

  // The origin: two stories, a third file, attributes naming three filter drivers and a diff driver, and a
  // signed commit on top (a gpgsig header is all `git log --show-signature` needs to call gpg.program). The
  // process filter's file sorts last: a process filter that fails its handshake stops git, and the clean filters
  // of the files before it must have had their turn.
  const origin = storyWorkspace();
  writeFileSync(join(origin, 'owl.txt'), 'An owl sang in the tree.\n');
  writeFileSync(join(origin, '.gitattributes'), '* filter=evil diff=evil\ndog.txt filter=x=y\nowl.txt filter=proc\n');
  run(origin, ['init', '-q']);
  run(origin, ['add', '.']);
  run(origin, ['commit', '-qm', 'stories']);
  appendFileSync(join(origin, 'dog.txt'), 'Max barked.\n');
  run(origin, ['commit', '-qam', 'Max']);
  appendFileSync(join(origin, 'cat.txt'), 'Tom slept.\n');
  run(origin, ['add', 'cat.txt']);
  const tree = run(origin, ['write-tree']).trim();
  const parent = run(origin, ['rev-parse', 'HEAD']).trim();
  const signed = [
    `tree ${tree}`,
    `parent ${parent}`,
    'author t <t@t> 1700000000 +0000',
    'committer t <t@t> 1700000000 +0000',
    'gpgsig -----BEGIN PGP SIGNATURE-----',
    ' ',
    ' iQEzBAABCAAdFiEE',
    ' -----END PGP SIGNATURE-----',
    '',
    'signed',
    '',
  ].join('\n');
  run(origin, ['update-ref', 'HEAD', run(origin, ['hash-object', '-t', 'commit', '-w', '--stdin'], signed).trim()]);
  run(origin, ['config', 'uploadpack.allowFilter', 'true']);

  // The workspace: a tree-less partial clone holding the trees of its last two commits only, so that
  // `git log --name-only` shows the signed commit and then must fetch the first commit's tree from its promisor.
  const ws = join(root, 'ws');
  run(root, ['clone', '-q', '--no-local', '--filter=tree:0', `file://${origin}`, ws]);
  run(ws, ['ls-tree', 'HEAD~1']);
  const included = join(root, 'filters.config');
  writeFileSync(
    included,
    [
      '[filter "evil"]',
      `  clean = ${script('filter-clean', 'exec cat')}`,
      `  smudge = ${script('filter-smudge', 'exec cat')}`,
      '[filter "x=y"]',
      `  clean = ${script('filter-clean-named-with-equals', 'exec cat')}`,
      '  required = true',
      '[filter "proc"]',
      `  process = ${script('filter-process')}`,
      '',
    ].join('\n'),
  );
  appendFileSync(
    join(ws, '.git', 'config'),
    [
      '[core]',
      `  fsmonitor = ${script('core-fsmonitor')}`,
      `  pager = ${script('core-pager', 'exec cat')}`,
      `  sshCommand = ${script('core-sshCommand')}`,
      '[pager]',
      `  log = ${script('pager-log', 'exec cat')}`,
      '[remote "origin"]',
      `  uploadpack = ${script('remote-uploadpack')}`,
      '[protocol "file"]',
      '  allow = always',
      '[log]',
      '  showSignature = true',
      '[gpg]',
      `  program = ${script('gpg-program')}`,
      '[diff]',
      `  external = ${script('diff-external', 'exec cat')}`,
      '[diff "evil"]',
      `  textconv = ${script('diff-textconv', 'exec cat')}`,
      `  command = ${script('diff-command')}`,
      '[include]',
      `  path = ${included}`,
      '',
    ].join('\n'),
  );
  const hooks = join(ws, '.git', 'hooks');
  mkdirSync(hooks, { recursive: true });
  for (const hook of ['post-index-change', 'reference-transaction', 'post-checkout', 'pre-auto-gc', 'post-rewrite']) {
    writeFileSync(join(hooks, hook), `#!/bin/sh\necho hook-${hook} >> '${log}'\n`);
    chmodSync(join(hooks, hook), 0o755);
  }
  // Tracked files whose stat data no longer matches the index: `ls-files --modified` hashes them (through the
  // clean filters).
  const later = new Date(Date.now() + 3_600_000);
  for (const f of ['cat.txt', 'dog.txt', 'owl.txt', '.gitattributes']) utimesSync(join(ws, f), later, later);
  return { ws, log };
}

const ran = (log: string): string[] => (existsSync(log) ? [...new Set(readFileSync(log, 'utf8').trim().split('\n'))] : []);

test(
  'a workspace repository configured to run commands: context, build and ask start none of them',
  { skip, concurrency: false },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'kvzip-git-armed-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const { ws, log } = armedRepository(root);
    const common = ['--model', STORIES];
    const cache = ['--cache-dir', join(root, 'cache')];

    await t.test('context', async () => {
      const r = await cli(['context', ws, ...common, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const paths = (JSON.parse(r.stdout) as { report: { included: { path: string }[] } }).report.included.map((f) => f.path);
      assert.deepEqual(paths.sort(), ['.gitattributes', 'cat.txt', 'dog.txt', 'owl.txt']);
      assert.deepEqual(ran(log), []);
    });
    await t.test('build', async () => {
      const r = await cli(['build', ws, ...common, ...cache, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(ran(log), []);
    });
    await t.test('ask', async () => {
      const r = await cli(['ask', ws, 'Tom and Max', ...common, ...cache, '--max-tokens', '8', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(ran(log), []);
    });

    await t.test('the repository is armed: plain git runs the commands', () => {
      const plain = (args: string[]) => {
        try {
          execFileSync('git', args, { cwd: ws, stdio: 'ignore' });
        } catch {
          // The scripts fail on purpose; what they left in the log is what counts.
        }
      };
      plain(['ls-files', '--modified']);
      plain(['log', '--name-only', '--format=%ct', '--', '.']);
      const fired = ran(log);
      for (const label of [
        'core-fsmonitor',
        'filter-clean',
        'filter-clean-named-with-equals',
        'filter-process',
        'gpg-program',
        'remote-uploadpack',
      ]) {
        assert.ok(fired.includes(label), `${label} did not run under plain git (ran: ${fired.join(', ')})`);
      }
    });
  },
);
