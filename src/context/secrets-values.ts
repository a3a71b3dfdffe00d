// Whether a literal found next to a secret-sounding name is itself a secret. The name alone says little
// (`password: string`, `token: ${TOKEN}`, `secretName: db-credentials` are everywhere in clean code), so the value
// decides: not a reference or a placeholder, not words, and as random as its kind of secret is. The thresholds
// follow gitleaks' generic-api-key rule (entropy 3.5 over 16+ characters) and detect-secrets' keyword filters,
// loosened for passwords, which people choose shorter and less random than generated keys.

/** Shannon entropy of `v` in bits per character. */
export function entropy(v: string): number {
  const counts = new Map<string, number>();
  for (const c of v) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / v.length) * Math.log2(n / v.length);
  return h;
}

const HAS_LETTER = /\p{L}/u;
const HAS_DIGIT = /\p{N}/u;
const HAS_SYMBOL = /[^\p{L}\p{N}]/u;

/**
 * References and placeholders: `${VAR}`, `{{ .Values.x }}`, `%(pw)s`, `{result.name}`, `<your-token>`, `$DB_PASS`,
 * `os.environ`, `get_secret(…`, `changeme`, `xxxx`, `****`: what code, docs and templates hold where the secret
 * would go.
 */
const REFERENCE =
  /^\$[\w{(]|^\{|\{[\w.]*\}|^[A-Za-z_][\w.]*\(|\$\{|\{\{|%\(\w*\)|#\{|<%|^%\w+%$|^@\w+@$|^<.*>$|process\.env|environ|getenv|\bENV\[|secrets\./;
const PLACEHOLDER = new RegExp(
  // A word that marks a stand-in, as written (lower, UPPER or Capitalized): random text mixes case, so it does not
  // spell one by chance. A value that says "password" is a field name or a stand-in (`new_password1`), not a secret.
  ['example', 'sample', 'placeholder', 'changeme', 'change_me', 'your_', 'your-', 'redacted', 'dummy', 'fake', 'password', 'passwd']
    .flatMap((w) => [w, w.toUpperCase(), w[0]!.toUpperCase() + w.slice(1)])
    .join('|'),
);
const MASK = /x{5,}|X{5,}|\*{4,}|^[xX*._-]+$/;
/** `config.db.password`, `settings.SECRET_KEY`, `kvzipCode.huggingFaceToken`: names (letters, then maybe a digit). */
const DOTTED_NAME = /^[A-Za-z_$][A-Za-z_$]*\d?(?:\.[A-Za-z_$][A-Za-z_$]*\d?)+$/;
/** Words joined by separators (`db-credentials`, `Mot_de_passe`, `SECRET_NAME`): names, not secrets. */
const WORDS = /^[-_./ ]*\p{L}+(?:[-_./ ]+\p{L}+)*[-_./ ]*$/u;
/** `https://…` without user info, `/run/secrets/db`, `./keys/dev.pem`: where a secret is, not the secret. */
const URL = /^[a-z][a-z0-9+.-]*:\/\/[^@]*$/i;
const PATH = /^~?\.{0,2}\/[\w./-]*$/;
/**
 * Identifiers made of words and numbers (`0002_alter_permission_name_max_length`, `v2-legacy-api-route`): three
 * or more parts, each a word (lower, UPPER or Capitalized) or a number, none mixing them as random text does.
 */
const IDENTIFIER = /^[-_./]*(?:[a-z]{2,}|[A-Z]{2,}|[A-Z][a-z]+|\d+)(?:[-_./]+(?:[a-z]{2,}|[A-Z]{2,}|[A-Z][a-z]+|\d+)){2,}[-_./]*$/;
/** Versions, dates, numbers: `1.2.3`, `2024-01-01`, `3600`. */
const NUMERIC = /^[\d.:_+-]+$/;

/** Upper and lower case mixed throughout, as random letters are (`HeVJifDGxpPf`), not as camelCase words are. */
function randomCase(v: string): boolean {
  const upper = v.replace(/[^A-Z]/g, '').length;
  const letters = v.replace(/[^A-Za-z]/g, '').length;
  return letters >= 12 && upper >= 0.3 * letters && upper <= 0.7 * letters;
}

/** A run of 8+ letters and digits with no separator, mixing upper case, lower case and digits, reads as random. */
const RANDOM_RUN = /(?=[A-Za-z0-9+=]*[a-z])(?=[A-Za-z0-9+=]*[A-Z])(?=[A-Za-z0-9+=]*\d)[A-Za-z0-9+=]{8,}/;
/** `__omit_place_holder__%s`: a format string is a template, judged by its words. */
const FORMAT_SPEC = /%[sdr]/g;

function isReference(v: string): boolean {
  if (
    REFERENCE.test(v) ||
    PLACEHOLDER.test(v) ||
    MASK.test(v) ||
    DOTTED_NAME.test(v) ||
    IDENTIFIER.test(v) ||
    NUMERIC.test(v) ||
    URL.test(v)
  )
    return true;
  const words = v.replace(FORMAT_SPEC, '');
  if ((WORDS.test(words) && !randomCase(words)) || (words !== v && IDENTIFIER.test(words))) return true;
  return PATH.test(v) && !RANDOM_RUN.test(v);
}

/** A chosen password: 8+ characters that mix letters with digits or symbols, or random letters. */
export function looksLikePassword(v: string): boolean {
  if (v.length < 8 || v.length > 200 || isReference(v)) return false;
  return HAS_LETTER.test(v) && (HAS_DIGIT.test(v) || HAS_SYMBOL.test(v) || randomCase(v));
}

/** A generated token or key: 16+ characters, random enough that no name or sentence reads that way. */
export function looksLikeToken(v: string): boolean {
  if (v.length < 16 || v.length > 1000 || isReference(v)) return false;
  const h = entropy(v);
  return h >= 3.5 || (HAS_LETTER.test(v) && HAS_DIGIT.test(v) && h >= 3);
}

/**
 * A value under a name as vague as `key` (`awsKey`, `signingKey`): only a long literal that mixes upper and lower
 * case and digits, which a 40-character AWS secret is and an ordinary name, path or hash is not.
 */
export function looksRandom(v: string): boolean {
  return v.length >= 32 && /[a-z]/.test(v) && /[A-Z]/.test(v) && /[0-9]/.test(v) && !isReference(v) && entropy(v) >= 3.5;
}
