// Secrets stay out by default: the cache holds the context, so a secret in the context is a secret on disk.
// Content is checked by secretlint's recommended preset (maintained upstream: cloud keys, tokens, connection
// strings), then by the shapes it lacks (secrets-patterns.ts) and by a keyword-and-entropy detector for config
// formats (secrets-keywords.ts); file names by the list below. A file with a secret is left out whole: a secret
// cut from its file would still leave its neighbours (user names, hosts) and the reader would not know.
import { lintSource } from '@secretlint/core';
import { secretLintProfiler } from '@secretlint/profiler';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';
import type { Verdict } from './defaults.ts';
import { keywordSecret } from './secrets-keywords.ts';
import { patternSecret } from './secrets-patterns.ts';

const SECRET_NAMES = new Set([
  '.netrc',
  '_netrc',
  '.pgpass',
  '.git-credentials',
  '.pypirc',
  '.htpasswd',
  '.dockercfg',
  '.s3cfg',
  'credentials.tfrc.json',
  'credentials.json',
  'credentials.yml',
  'credentials.yaml',
  'secrets.json',
  'secrets.yml',
  'secrets.yaml',
]);
// Terraform state holds every resource's attributes in clear, passwords included. A .pem is not here: most hold
// certificates (public), and one that holds a private key shows its header to the content check.
const SECRET_NAME_PATTERN =
  /^\.env|\.(?:key|p12|pfx|jks|keystore|kdbx|ppk|gpg|age|tfstate|tfstate\.backup)$|^id_(?:rsa|dsa|ecdsa|ed25519)|^client_secret.*\.json$/i;
/** Files whose meaning depends on their folder. */
const SECRET_PATH_SUFFIXES = ['.aws/credentials', '.docker/config.json', '.kube/config', '.ssh/config'];

/** The preset knows .npmrc's _authToken only; these files' other auth fields are secrets whatever their value. */
const PACKAGE_MANAGER_AUTH = /(?:_authToken|_auth|_password|npmAuthToken|npmAuthIdent)\s*[=:]/;
const PACKAGE_MANAGER_FILES = new Set(['.npmrc', '.yarnrc', '.yarnrc.yml']);

// secretlint's profiler keeps a performance mark per rule per file, forever (about 10 KB a file): in the engine,
// which checks every file of every build, that is a leak. Nothing here reads the profile. 12.0.0 (the last release
// for Node 20) has no switch for it (13's setEnabled), so its one profiler marks nothing.
secretLintProfiler.mark = () => {};

// AWS key ids (AKIA…, ASIA…) are scanned too, which the preset leaves off by default: a temporary key id travels
// with its secret. Account ids are not secrets, and infrastructure code is full of them.
const SECRETLINT_CONFIG = {
  rules: [
    {
      id: '@secretlint/secretlint-rule-preset-recommend',
      rule: recommended,
      rules: [{ id: '@secretlint/secretlint-rule-aws', options: { enableIDScanRule: true }, allowMessageIds: ['AWSAccountID'] }],
    },
  ],
};

export function secretNameVerdict(path: string): Verdict | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (SECRET_NAMES.has(name.toLowerCase()) || SECRET_NAME_PATTERN.test(name)) {
    return { reason: 'secret', detail: `name ${name} is a secrets file` };
  }
  for (const suffix of SECRET_PATH_SUFFIXES) {
    if (path === suffix || path.endsWith('/' + suffix)) return { reason: 'secret', detail: `${suffix} holds credentials` };
  }
  return undefined;
}

/** The first secret found in a file's text, named by the rule that found it and its line (never the secret). */
export async function secretContentVerdict(path: string, text: string): Promise<Verdict | undefined> {
  const name = path.slice(path.lastIndexOf('/') + 1);
  // The preset first: its rules name the provider, ours only the shape.
  const dot = name.lastIndexOf('.');
  const { messages } = await lintSource({
    source: { filePath: path, content: text, ext: dot > 0 ? name.slice(dot) : '', contentType: 'text' },
    options: { config: SECRETLINT_CONFIG, maskSecrets: true },
  });
  const hit = messages[0];
  if (hit) return { reason: 'secret', detail: `rule ${hit.ruleId} (${hit.messageId}) matched at line ${hit.loc.start.line}` };
  if (PACKAGE_MANAGER_FILES.has(name)) {
    const m = PACKAGE_MANAGER_AUTH.exec(text);
    if (m) return { reason: 'secret', detail: `rule kvzip/package-manager-auth matched at line ${lineOf(text, m.index)}` };
  }
  // Notebooks and JSON hold code as strings, where `password = \"…\"` hides the quotes from the detectors.
  // Dropping the backslashes keeps every newline, so line numbers still point into the file.
  const scanned = /\.(?:ipynb|json)$/i.test(name) ? text.replace(/\\(["'])/g, '$1') : text;
  const found = patternSecret(scanned) ?? keywordSecret(name, scanned);
  if (found) return { reason: 'secret', detail: `rule ${found.rule} matched at line ${lineOf(scanned, found.index)}` };
  return undefined;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
