// The keyword-and-entropy detector: a value written next to a name that says "secret" (`DB_PASSWORD=…`,
// `apiKey: "…"`, `<password>…</password>`, `define('AUTH_KEY', '…')`, `Password=…;`), kept out when the value itself
// looks like one (secrets-values.ts). This is the shape of detect-secrets' KeywordDetector and gitleaks'
// generic-api-key rule: they catch the secrets no provider prefix marks, in every config format people use.
//
// Unquoted values (`password: hunter2x`, `token = abc123…`) count only in configuration files: in code,
// `password: string` and `token = nextToken()` are types and expressions, and a literal there is always quoted.
import type { Hit } from './secrets-patterns.ts';
import { looksLikePassword, looksLikeToken, looksRandom } from './secrets-values.ts';

type Strength = 'password' | 'token' | 'key';

const PASSWORD_WORDS = new Set(['password', 'passwd', 'pwd', 'pass', 'passphrase', 'secret', 'clientsecret']);
const TOKEN_WORDS = new Set([
  'token',
  'auth',
  'credential',
  'credentials',
  'apikey',
  'accesskey',
  'secretkey',
  'privatekey',
  'authtoken',
  'accesstoken',
]);
/** `…_key` names a secret only after one of these; a bare or other `key` needs a random-looking value. */
const KEY_KINDS = new Set([
  'api',
  'access',
  'secret',
  'private',
  'account',
  'signing',
  'master',
  'encryption',
  'auth',
  'client',
  'app',
  'shared',
  'storage',
  'subscription',
  'session',
  'webhook',
  'hmac',
  'jwt',
  'admin',
  'service',
]);
/** Words after the secret word that still name it: `SECRET_KEY_BASE`, `client-key-data`, `password_b64`. */
const TRAILERS = new Set(['base', 'value', 'data', 'b64', 'base64', 'hex', 'raw']);
/** `publicKey`, `publishableKey`, `hashed_password`: made to be shared, or not the secret itself. */
const NOT_SECRET = new Set(['public', 'publishable', 'pub', 'pubkey', 'hashed', 'hash']);

/** How strong a value must look to count as the secret this name announces; undefined when it announces none. */
function keyStrength(name: string): Strength | undefined {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  while (words.length > 1 && TRAILERS.has(words.at(-1)!)) words.pop();
  const last = words.at(-1);
  if (!last || words.some((w) => NOT_SECRET.has(w))) return undefined;
  if (PASSWORD_WORDS.has(last)) return 'password';
  if (TOKEN_WORDS.has(last)) return 'token';
  if (last === 'key' || last === 'keys') return KEY_KINDS.has(words.at(-2) ?? '') ? 'token' : 'key';
  return undefined;
}

const JUDGE: Record<Strength, (v: string) => boolean> = { password: looksLikePassword, token: looksLikeToken, key: looksRandom };
const RULE: Record<Strength, string> = {
  password: 'kvzip/password-assignment',
  token: 'kvzip/key-assignment',
  key: 'kvzip/key-assignment',
};

/**
 * Each form yields the name and the value; `name` and `value` groups, `d` flag for the value's index. A name is
 * `[\w.-]` (`spring.datasource.password`, `client-key-data`) and may be quoted.
 */
const NAME = String.raw`(?<name>[A-Za-z_][\w.-]*)`;
const QUOTED_VALUE = String.raw`[rbuf]?(?<q>["'\x60])(?<value>[^"'\x60\s\\]+)\k<q>`;
const CONNECTION_NAME = '(?<name>Password|Pwd|AccountKey|SharedAccessKey|SharedSecret)';
const CONNECTION_VALUE = String.raw`(?<value>[^;"'\s<>()[\]{},]+)`;
const ANYWHERE: RegExp[] = [
  // password = "…", "apiKey": "…", api_key: '…', token := "…", 'password' => '…', password="…" (XML attributes too)
  new RegExp(String.raw`(?<![\w.-])["']?${NAME}["']?[ \t]*(?::=|=>|=|:)[ \t]*${QUOTED_VALUE}`, 'dg'),
  // define('DB_PASSWORD', '…'), put("password", "…"), setHeader('X-API-Key', '…'): the first two arguments of a
  // call (in a list, `["old_password", "new_password1"]` is two names)
  new RegExp(String.raw`\([ \t]*(?<nq>["'])${NAME}\k<nq>[ \t]*,[ \t]*${QUOTED_VALUE}`, 'dg'),
  // NuGet and .NET config: <add key="ClearTextPassword" value="…" />
  new RegExp(String.raw`\bkey[ \t]*=[ \t]*"${NAME}"[ \t]+value[ \t]*=[ \t]*"(?<value>[^"\s]+)"`, 'dg'),
  // Maven and other XML: <password>…</password>
  new RegExp(String.raw`<${NAME}>\s*(?<value>[^<\s]+)\s*</\k<name>>`, 'dg'),
  // Connection strings (`Server=…;Password=…;`, `…;AccountKey=…`): `;`-separated, which code's `password=x` is not.
  new RegExp(String.raw`(?<=;\s?)${CONNECTION_NAME}=${CONNECTION_VALUE}(?=[;"'\s]|$)`, 'dgim'),
  new RegExp(String.raw`(?<![\w.-])${CONNECTION_NAME}=${CONNECTION_VALUE};`, 'dgi'),
  // A header or an assignment inside one string: -H "X-API-Key: …", "password=…"
  new RegExp(String.raw`(?<=["'])${NAME}[ \t]*[:=][ \t]*(?<value>[^\s"'$]+)(?=["'])`, 'dg'),
];
/**
 * Unquoted, one per line: YAML (`password: …`, `- JWT_SECRET=…`), INI, .properties, env files, shell
 * (`export TOKEN=…`), Dockerfile (`ENV DB_PASSWORD=…`). A trailing comment is allowed; a value with spaces is prose.
 */
const UNQUOTED = new RegExp(
  String.raw`^[ \t]*(?:-[ \t]+)?(?:export[ \t]+|ENV[ \t]+|set[ \t]+)?${NAME}[ \t]*(?:=|:)[ \t]*(?<value>[^\s"'#;][^\s"']*)[ \t]*(?:[#;].*)?$`,
  'dgm',
);

/** Files whose lines are `name = value` or `name: value` data, not code. */
const CONFIG_EXT = /\.(?:ya?ml|ini|cfg|conf|cnf|properties|env|toml|tfvars|hcl|sh|bash|zsh|ksh|rc)$/i;
const CONFIG_NAME = /^(?:Dockerfile|Containerfile|Makefile)(?:\..*)?$|^[^.]+$|^\.[^.]+$/;

/** A script run by an interpreter other than a shell is code, whatever its name. */
const CODE_SHEBANG = /^#!.*\b(?:python[\d.]*|node|ruby|perl|php|deno|bun|pwsh)\b/;

function isConfig(name: string, text: string): boolean {
  return (CONFIG_EXT.test(name) || CONFIG_NAME.test(name)) && !CODE_SHEBANG.test(text);
}

/** The first keyword-named secret in `text` (`name` is the file's base name, which picks the forms that apply). */
export function keywordSecret(name: string, text: string): Hit | undefined {
  const forms = isConfig(name, text) ? [...ANYWHERE, UNQUOTED] : ANYWHERE;
  let first: Hit | undefined;
  for (const re of forms) {
    for (const m of text.matchAll(re)) {
      if (first && m.index >= first.index) break;
      const strength = keyStrength(m.groups!.name!);
      const value = m.groups!.value!;
      if (strength && JUDGE[strength](value)) {
        first = { rule: RULE[strength], index: m.indices!.groups!.value![0] };
        break;
      }
    }
  }
  return first;
}
