// Secrets stay out by default: the cache holds the context, so a secret in the context is a secret on disk.
// Content is checked by secretlint's recommended preset (maintained upstream: cloud keys, tokens, connection
// strings), plus the few kinds it does not cover; file names by the list below.
import { lintSource } from '@secretlint/core';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';
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
// Terraform state holds every resource's attributes in clear, passwords included.
const SECRET_NAME_PATTERN =
  /^\.env|\.(?:pem|key|p12|pfx|jks|keystore|kdbx|ppk|gpg|age|tfstate|tfstate\.backup)$|^id_(?:rsa|dsa|ecdsa|ed25519)|^client_secret.*\.json$/i;
/** Files whose meaning depends on their folder. */
const SECRET_PATH_SUFFIXES = ['.aws/credentials', '.docker/config.json', '.kube/config', '.ssh/config'];

/**
 * What the preset leaves out, named like its rules so the report reads the same. A private key header alone is
 * enough here (the preset wants a whole well-formed block). When `value` is given, a match counts only if its
 * second group (the assigned literal) passes it.
 */
const EXTRA_RULES: { id: string; re: RegExp; names?: Set<string>; value?: (v: string) => boolean }[] = [
  { id: 'kvzip/private-key-header', re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/ },
  // The preset knows .npmrc's _authToken only.
  {
    id: 'kvzip/package-manager-auth',
    re: /(?:_authToken|_auth|_password|npmAuthToken|npmAuthIdent)\s*[=:]/,
    names: new Set(['.npmrc', '.yarnrc', '.yarnrc.yml']),
  },
  { id: 'kvzip/google-api-key', re: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/ },
  // `password = "…"`, `"PASSWORD": '…'`, `secret_key := "…"`: a literal of 8+ characters with no spaces that mixes
  // kinds of characters, which leaves out empty values, prose, references such as os.environ[...] or ${VAR}, and
  // names such as HF_TOKEN_SECRET = 'kvzipCode.huggingFaceToken'.
  {
    id: 'kvzip/password-assignment',
    re: /\b[\w-]*(?:password|passwd|pwd|secret|secret_key|api_?key|access_?token|auth_?token|client_secret)["']?\s*(?::=|=>|=|:)\s*[rbuf]?(["'])(?![$<{%])([^\s"'`]{8,})\1/gi,
    value: (v) => kinds(v) >= 2 && !DOTTED_NAME.test(v),
  },
  // `awsKey = "…"`, `SIGNING_TOKEN: '…'`: a 32+ character literal that looks random (upper and lower case and
  // digits), which a 40-character AWS secret key is, and an ordinary name or path is not.
  {
    id: 'kvzip/key-assignment',
    re: /\b[\w-]*(?:key|token|credential)s?["']?\s*(?::=|=>|=|:)\s*[rbuf]?(["'])([A-Za-z0-9/+=_-]{32,})\1/gi,
    value: (v) => /[a-z]/.test(v) && /[A-Z]/.test(v) && /[0-9]/.test(v),
  },
];

const DOTTED_NAME = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;

/** How many of lower case, upper case, digits and other characters `v` has. */
function kinds(v: string): number {
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(v)).length;
}
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
  for (const { id, re, names, value } of EXTRA_RULES) {
    if (names && !names.has(name)) continue;
    const m = value ? [...text.matchAll(re)].find((x) => value(x[2]!)) : re.exec(text);
    if (m) return { reason: 'secret', detail: `rule ${id} matched at line ${lineOf(text, m.index ?? 0)}` };
  }
  return undefined;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
