// Secrets stay out by default: the cache holds the context, so a secret in the context is a secret on disk.
import type { Verdict } from './defaults.ts';

const SECRET_NAMES = new Set([
  '.netrc',
  '_netrc',
  '.pgpass',
  '.git-credentials',
  '.pypirc',
  '.htpasswd',
  '.dockercfg',
  'credentials.json',
  'credentials.yml',
  'credentials.yaml',
  'secrets.json',
  'secrets.yml',
  'secrets.yaml',
]);
const SECRET_NAME_PATTERN =
  /^\.env|\.(?:pem|key|p12|pfx|jks|keystore|kdbx|ppk|gpg|age)$|^id_(?:rsa|dsa|ecdsa|ed25519)|^client_secret.*\.json$/i;
/** Files whose meaning depends on their folder. */
const SECRET_PATH_SUFFIXES = ['.aws/credentials', '.docker/config.json', '.kube/config', '.ssh/config'];
/** Config files that are fine unless they carry a token. */
const TOKEN_CONFIGS = new Set(['.npmrc', '.yarnrc', '.yarnrc.yml']);
const TOKEN_CONFIG_CONTENT = /(?:_authToken|_auth|_password|npmAuthToken|npmAuthIdent)\s*[=:]/;

const SECRET_CONTENT: [RegExp, string][] = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/, 'contains a private key'],
  [/\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b/, 'contains a GitHub token'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, 'contains a Slack token'],
  [/\bAKIA[0-9A-Z]{16}\b/, 'contains an AWS access key id'],
];

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

export function secretContentVerdict(path: string, text: string): Verdict | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (TOKEN_CONFIGS.has(name) && TOKEN_CONFIG_CONTENT.test(text)) return { reason: 'secret', detail: `${name} holds an auth token` };
  for (const [re, detail] of SECRET_CONTENT) if (re.test(text)) return { reason: 'secret', detail };
  return undefined;
}
