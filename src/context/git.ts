// Thin wrapper over the git binary: execFile (no shell), bounded output, cancellable, and unable to start any
// program that the repository's configuration names. A workspace may be a repository the user did not write
// (an archive, a pull request), and its `.git/config`, any file that config includes, and its `.gitattributes`
// are the repository's, not the user's.
//
// What in a repository's configuration starts a program during the calls this project makes (rev-parse,
// config, check-ignore, ls-files --cached / --others / --modified, log --name-only, diff-index --cached
// --name-only), checked against git's source (convert.c, fsmonitor-settings.c, transport.c, log-tree.c) and by
// running each case on git 2.39 (test/engine/git-commands.test.ts):
// - core.fsmonitor: a hook every command that reads the index runs (all of ours but rev-parse, config and log).
//   Set empty: off on every git version (before 2.36 the value is a hook path, and an empty one means none).
//   core.useBuiltinFSMonitor (Git for Windows) starts the fsmonitor daemon: off.
// - filter.<driver>.clean / .process: `ls-files --modified` hashes every tracked file whose stat data changed
//   (and every racily clean one) through the driver that `.gitattributes` names. The driver names are the
//   repository's own, so they are read first (`git config --get-regexp`, which starts nothing and follows
//   include.path like every other call) and each one is emptied (convert.c's apply_filter runs nothing for an
//   empty command), with `required` off so an emptied filter is not an error. .smudge runs only on checkout; it
//   is emptied too.
// - log.showSignature: `git log` verifies signed commits with gpg.program, gpg.ssh.program or
//   gpg.x509.program, whatever the format. Off.
// - A partial clone fetches missing objects on demand (`log --name-only` needs trees): through
//   remote.<name>.uploadpack, core.sshCommand, an `ext::` URL that protocol.ext.allow permits, or a
//   credential.helper. GIT_ALLOW_PROTOCOL set to nothing allows no transport at all, whatever protocol.*.allow
//   says; GIT_NO_LAZY_FETCH (git 2.44+) stops the fetch before it starts. A fetch would also leave the machine.
// - Hooks (core.hooksPath, .git/hooks): none of our calls writes the index or a ref, so none runs a hook; the
//   hooks path still points nowhere.
// - core.pager / pager.<cmd>: git pages only to a terminal, and stdout here is a pipe; --no-pager anyway.
// - diff.external, diff.<driver>.command / .textconv: used only for patch output, which no call asks for; the
//   calls that could produce it say --no-ext-diff --no-textconv.
// - Not command-running, so left alone: core.untrackedCache, core.excludesFile, include.path itself, alias.*
//   (never consulted for built-in commands), trace2.* (read only from system and global config).
import { execFile } from 'node:child_process';

const MAX_BUFFER = 512 * 1024 * 1024;

/** `-c` settings on every call; command-line settings win over every configuration file. */
const SAFE_SETTINGS = [
  'core.fsmonitor=',
  'core.useBuiltinFSMonitor=false',
  'core.hooksPath=/dev/null',
  'log.showSignature=false',
  // Not a safety setting: non-ASCII names come back verbatim even where -z is not used.
  'core.quotePath=false',
];

/** Environment for every call: no transport, no lazy fetch, no prompt, no optional index writes. */
const SAFE_ENV: Record<string, string> = {
  GIT_ALLOW_PROTOCOL: '',
  GIT_NO_LAZY_FETCH: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_OPTIONAL_LOCKS: '0',
};

const FILTER_KEYS: [string, string][] = [
  ['clean', ''],
  ['smudge', ''],
  ['process', ''],
  ['required', 'false'],
];

interface Overrides {
  args: string[];
  env: Record<string, string>;
}

function run(cwd: string, args: string[], o: Overrides, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['--no-pager', ...SAFE_SETTINGS.flatMap((s) => ['-c', s]), ...o.args, ...args],
      { cwd, maxBuffer: MAX_BUFFER, encoding: 'utf8', signal, windowsHide: true, env: { ...process.env, ...SAFE_ENV, ...o.env } },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
}

/**
 * Empties every filter driver the configuration seen from `cwd` defines. A driver name holding `=` cannot be
 * written as `-c filter.<name>.clean=` (git splits at the first `=`), so those go through GIT_CONFIG_KEY_<n>,
 * which git reads from 2.31 on.
 */
async function filterOverrides(cwd: string, signal?: AbortSignal): Promise<Overrides> {
  let out: string;
  try {
    out = await run(cwd, ['config', '-z', '--name-only', '--get-regexp', '^filter\\.'], { args: [], env: {} }, signal);
  } catch (e) {
    if ((e as { code?: unknown }).code === 1) return { args: [], env: {} }; // No such key.
    throw e;
  }
  const drivers = new Set<string>();
  for (const key of splitNul(out)) {
    const dot = key.lastIndexOf('.');
    if (dot > 'filter'.length) drivers.add(key.slice('filter.'.length, dot));
  }
  const args: string[] = [];
  const env: Record<string, string> = {};
  let n = Number(process.env.GIT_CONFIG_COUNT) || 0;
  for (const d of drivers) {
    for (const [k, v] of FILTER_KEYS) {
      if (!d.includes('=')) args.push('-c', `filter.${d}.${k}=${v}`);
      else {
        env[`GIT_CONFIG_KEY_${n}`] = `filter.${d}.${k}`;
        env[`GIT_CONFIG_VALUE_${n++}`] = v;
      }
    }
  }
  if (Object.keys(env).length > 0) env.GIT_CONFIG_COUNT = String(n);
  return { args, env };
}

export async function git(cwd: string, args: string[], signal?: AbortSignal): Promise<string> {
  return run(cwd, args, await filterOverrides(cwd, signal), signal);
}

/** The work tree's top level when cwd is inside a git work tree, else undefined (no git, not a repo). */
export async function gitTopLevel(cwd: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const out = await git(cwd, ['rev-parse', '--is-inside-work-tree', '--show-toplevel'], signal);
    const [inside, top] = out.split('\n');
    return inside === 'true' && top ? top : undefined;
  } catch {
    signal?.throwIfAborted();
    return undefined;
  }
}

export function splitNul(out: string): string[] {
  return out.split('\0').filter((s) => s.length > 0);
}
