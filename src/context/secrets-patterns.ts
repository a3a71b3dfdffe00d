// Secrets with a shape of their own that secretlint's recommended preset does not know, after gitleaks' rules
// (config/gitleaks.toml) where one exists: provider tokens with a fixed prefix or layout, private keys (in clear
// and base64-encoded), URLs and headers that carry credentials, and Kubernetes Secret manifests.
import { looksLikePassword, looksLikeToken } from './secrets-values.ts';

export interface Hit {
  rule: string;
  index: number;
}

interface Pattern {
  id: string;
  re: RegExp;
  /** When given, a match counts only if its `value` group passes. */
  value?: (v: string) => boolean;
}

const PRIVATE_KEY_HEADER = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/;

const PATTERNS: Pattern[] = [
  // A header alone is enough (the preset wants a whole well-formed block, and keys sit escaped in JSON and code).
  { id: 'kvzip/private-key-header', re: new RegExp(PRIVATE_KEY_HEADER.source, 'g') },
  // "-----BEGIN" in base64 starts with LS0tLS1CRUdJTi; the header decides whether it is a key or a certificate.
  {
    id: 'kvzip/base64-private-key',
    re: /(?<value>LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,})/g,
    value: (v) => PRIVATE_KEY_HEADER.test(Buffer.from(v.slice(0, v.length - (v.length % 4)), 'base64').toString('latin1')),
  },
  // The preset's SendGrid rule allows one '-' in a key; real keys have them anywhere (gitleaks: sendgrid-api-token).
  { id: 'kvzip/sendgrid-api-key', re: /\bSG\.[\w-]{22}\.[\w-]{43}(?![\w-])/g },
  { id: 'kvzip/google-api-key', re: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g },
  { id: 'kvzip/discord-bot-token', re: /(?<![\w-])[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}(?![\w-])/g },
  { id: 'kvzip/discord-webhook', re: /https:\/\/(?:ptb\.|canary\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/[\w-]{60,68}/g },
  { id: 'kvzip/telegram-bot-token', re: /(?<![\w:])\d{8,10}:AA[\w-]{33}(?![\w-])/g },
  { id: 'kvzip/twilio-api-key', re: /\bSK[0-9a-fA-F]{32}\b/g },
  // An account SID is an id; the 32-hex auth token beside it on the line is the secret.
  { id: 'kvzip/twilio-auth-token', re: /\bAC[0-9a-f]{32}\b.{0,80}?\b[0-9a-f]{32}\b/g },
  { id: 'kvzip/mailgun-api-key', re: /(?<![\w-])key-[0-9a-f]{32}(?![\w-])/g },
  { id: 'kvzip/mailchimp-api-key', re: /\b[0-9a-f]{32}-us\d{1,2}\b/g },
  { id: 'kvzip/pypi-token', re: /\bpypi-AgEIcHlwaS5vcmc[\w-]{50,}/g },
  { id: 'kvzip/terraform-cloud-token', re: /\b[a-z0-9]{14}\.atlasv1\.[a-z0-9_=-]{60,70}\b/g },
  { id: 'kvzip/age-secret-key', re: /\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b/g },
  { id: 'kvzip/new-relic-key', re: /\bNRAK-[A-Z0-9]{27}\b/g },
  // Three shapes the preset gained after 12.0.0, its last release for Node 20 (package.json): as 13.1.0 has them.
  { id: 'kvzip/stripe-key', re: /(?<!\p{L})[sr]k_(?:live|test)_[a-zA-Z0-9]{24,99}(?![a-zA-Z0-9])/gu },
  { id: 'kvzip/cloudflare-token', re: /(?<!\p{L})(?:cfk|cfut|cfat)_[A-Za-z0-9]{40}[0-9a-f]{8}(?![A-Za-z0-9])/gu },
  { id: 'kvzip/tailscale-key', re: /(?<!\p{L})tskey-[a-z]{2,20}-[0-9A-Za-z_]{8,40}-[0-9A-Za-z_]{16,60}(?![0-9A-Za-z_])/gu },
  // kubeadm bootstrap tokens (`token: abcdef.0123456789abcdef`, `kubeadm join --token …`): they read as a dotted name.
  { id: 'kvzip/kubernetes-bootstrap-token', re: /\btoken["']?[\s:=]+["']?[a-z0-9]{6}\.[a-z0-9]{16}\b/g },
  { id: 'kvzip/jwt', re: /\beyJ[\w-]{15,}\.eyJ[\w-]{15,}\.[\w-]{10,}/g },
  // redis://:pw@…, amqp://user:pw@…, any scheme (the preset knows http(s), ftp and a few databases).
  {
    id: 'kvzip/url-password',
    re: /\b[a-z][a-z0-9+.-]{1,30}:\/\/[^\s:/?#@"'`]*:(?<value>[^\s/?#@"'`]+)@[\w.-]/gi,
    value: looksLikePassword,
  },
  // jdbc:…?user=x&password=…, ?access_token=… (a badge's 10-character `?token=` is no key)
  {
    id: 'kvzip/url-query-secret',
    re: /[?&;](?:password|passwd|pwd)=(?<value>[^&\s"'#;]+)/gi,
    value: looksLikePassword,
  },
  {
    id: 'kvzip/url-query-secret',
    re: /[?&;](?:access_token|api_key|apikey|token|secret|client_secret)=(?<value>[^&\s"'#;]+)/gi,
    value: looksLikeToken,
  },
  // Authorization: Bearer …, "Basic …" (a literal, not `Bearer ${token}`).
  { id: 'kvzip/authorization-header', re: /\b(?:Bearer|Basic)\s+(?<value>[\w~+/.-]{16,}=*)/g, value: looksLikeToken },
];

/**
 * A Kubernetes Secret: a document with `kind: Secret` and a literal under `data:` or `stringData:` (a Helm
 * template's `{{ … }}` or a `${VAR}` is not one).
 */
const KIND_SECRET = /^kind:[ \t]*["']?Secret["']?[ \t]*$/m;
const SECRET_DATA =
  /^(?:data|stringData):[ \t]*\n(?:[ \t]*#.*\n)*[ \t]+["']?[\w.-]+["']?:[ \t]*(?:[^\s"'{$]|"(?![{$])[^"\n]|'(?![{$])[^'\n])/m;

function kubernetesSecret(text: string): number | undefined {
  if (!KIND_SECRET.test(text)) return undefined;
  const starts = [0, ...[...text.matchAll(/^---.*$/gm)].map((m) => m.index + m[0].length)];
  for (let i = 0; i < starts.length; i++) {
    const doc = text.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : text.length);
    const m = KIND_SECRET.test(doc) ? SECRET_DATA.exec(doc) : null;
    if (m) return starts[i]! + m.index;
  }
  return undefined;
}

/** The first fixed-shape secret in `text`. */
export function patternSecret(text: string): Hit | undefined {
  let first: Hit | undefined;
  for (const { id, re, value } of PATTERNS) {
    for (const m of text.matchAll(re)) {
      if (first && m.index >= first.index) break;
      if (value && !value(m.groups!.value!)) continue;
      first = { rule: id, index: m.index };
      break;
    }
  }
  const k8s = kubernetesSecret(text);
  if (k8s !== undefined && (!first || k8s < first.index)) first = { rule: 'kvzip/kubernetes-secret', index: k8s };
  return first;
}
