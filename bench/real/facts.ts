// Code-fact questions generated from a workspace's code with tree-sitter (the grammars the context builder
// parses with), each with an answer a string match checks. Only facts whose evidence is in the rendered context
// are asked: a file that went in as an outline keeps its signatures (defaults, class headers, constants) but not
// its function bodies, so a function's literal return is asked only where the whole function is there.
//
// Kinds: a constant's value, a parameter's default, which file defines a function, which class a class extends,
// and what a function returns when that is a literal.
import type { BuiltContext } from '../../src/context/index.ts';
import { languageOf, type Syntax, type SyntaxNode } from '../../src/context/syntax.ts';
import { mulberry32 } from '../../src/runtime/random.ts';

export const FACT_KINDS = ['constant', 'default', 'defines', 'extends', 'returns'] as const;
export type FactKind = (typeof FACT_KINDS)[number];

export interface Question {
  /** 'needle' or a code-fact kind. */
  kind: FactKind | 'needle';
  question: string;
  /** Strings any one of which, found in the answer at word boundaries, makes it correct. */
  accept: string[];
  /** Case-insensitive match (keywords such as True/None/null, file names). */
  ignoreCase?: boolean;
  /** The file the fact is in. */
  path: string;
  /** Where the fact sits in the context, as a share of its tokens (0..1). */
  depth?: number;
}

interface Candidate extends Question {
  kind: FactKind;
  /** Text that must appear verbatim in the file's rendered segment. */
  evidence: string;
  /** Name the uniqueness checks count (function or class). */
  defines?: string;
}

const MAX_LITERAL = 40;

/** A literal's checkable forms, or undefined for anything that is not a short single-line literal. */
function literal(node: SyntaxNode | null | undefined): { accept: string[]; ignoreCase?: boolean } | undefined {
  if (!node) return undefined;
  const text = node.text;
  if (text.includes('\n') || text.length > MAX_LITERAL + 2) return undefined;
  switch (node.type) {
    case 'number':
    case 'integer':
    case 'float': {
      const forms = [text];
      const v = Number(text.replace(/_/g, ''));
      if (/^0[xob]/i.test(text) && Number.isFinite(v)) forms.push(String(v));
      return { accept: forms };
    }
    case 'unary_expression':
    case 'unary_operator': {
      const arg = node.namedChild(0);
      if (text.startsWith('-') && arg && ['number', 'integer', 'float'].includes(arg.type)) return { accept: [text.replace(/\s+/g, '')] };
      return undefined;
    }
    case 'true':
    case 'false':
    case 'null':
    case 'none':
      return { accept: [text], ignoreCase: true };
    case 'undefined':
      return { accept: ['undefined'] };
    case 'string': {
      // Plain strings only: no interpolation, no escapes, not empty, no prefixes such as b'' or f''.
      if (node.namedChildren.some((c) => c && !['string_fragment', 'string_start', 'string_content', 'string_end'].includes(c.type)))
        return undefined;
      const m = /^(['"])(.*)\1$/s.exec(text) ?? /^("""|''')(.*)\1$/s.exec(text);
      if (!m) return undefined;
      const body = m[2]!;
      if (body.length === 0 || body.length > MAX_LITERAL || /\\/.test(body) || body.trim() !== body || body.trim().length < 1)
        return undefined;
      return { accept: [body] };
    }
    default:
      return undefined;
  }
}

const isFunction = (t: string) =>
  [
    'function_declaration',
    'generator_function_declaration',
    'function_definition',
    'method_definition',
    'function_expression',
    'arrow_function',
    'function',
  ].includes(t);

/** Return statements of a function body, not counting nested functions'. */
function returnsOf(body: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const walk = (n: SyntaxNode) => {
    for (const c of n.namedChildren) {
      if (!c) continue;
      if (c.type === 'return_statement') out.push(c);
      if (isFunction(c.type) || c.type === 'class_declaration' || c.type === 'class_definition' || c.type === 'lambda') continue;
      walk(c);
    }
  };
  walk(body);
  return out;
}

/** The text from `from`'s start to `to`'s end, out of the file's text. */
const slice = (text: string, from: SyntaxNode, to: SyntaxNode) => text.slice(from.startIndex, to.endIndex);

const lastName = (text: string) => /([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*(?:\([^)]*\))?$/.exec(text.trim())?.[1];

/** Every candidate fact in one file. */
function factsOfFile(syntax: Syntax, path: string, text: string): Candidate[] {
  const lang = languageOf(path);
  if (lang !== 'javascript' && lang !== 'typescript' && lang !== 'tsx' && lang !== 'python') return [];
  const tree = syntax.parse(path, text);
  if (!tree) return [];
  const out: Candidate[] = [];
  const py = lang === 'python';
  try {
    const fn = (node: SyntaxNode, name: string, owner: string | undefined, top: boolean) => {
      const params = node.childForFieldName('parameters');
      const body = node.childForFieldName('body');
      if (!params) return;
      const what = owner ? `the method \`${owner}.${name}\`` : `the function \`${name}\``;
      // Which file defines it: the header (name through parameters) as evidence.
      if (top || owner) {
        out.push({
          kind: 'defines',
          question: `Which file defines ${what}?`,
          accept: [path, path.slice(path.lastIndexOf('/') + 1)],
          path,
          evidence: slice(text, node, params),
          defines: owner ? `${owner}.${name}` : name,
        });
      }
      // Defaults.
      for (const p of params.namedChildren) {
        if (!p) continue;
        let pname: SyntaxNode | null = null;
        let value: SyntaxNode | null = null;
        if (p.type === 'assignment_pattern') [pname, value] = [p.childForFieldName('left'), p.childForFieldName('right')];
        else if (p.type === 'default_parameter' || p.type === 'typed_default_parameter')
          [pname, value] = [p.childForFieldName('name'), p.childForFieldName('value')];
        else if (p.type === 'required_parameter' || p.type === 'optional_parameter')
          [pname, value] = [p.childForFieldName('pattern'), p.childForFieldName('value')];
        const lit = literal(value);
        if (!pname || pname.type !== 'identifier' || !lit || !value) continue;
        out.push({
          kind: 'default',
          question: `What is the default value of the parameter \`${pname.text}\` of ${what} in \`${path}\`?`,
          ...lit,
          path,
          evidence: slice(text, node, p),
        });
      }
      // A literal return: the function's one return statement returns a literal.
      if (body) {
        const rets = returnsOf(body);
        const lit = rets.length === 1 ? literal(rets[0]!.namedChild(0)) : undefined;
        if (lit && name !== 'constructor' && name !== '__init__') {
          out.push({
            kind: 'returns',
            question: `What does ${what} in \`${path}\` return?`,
            ...lit,
            path,
            evidence: slice(text, node, body),
          });
        }
      }
    };
    const klass = (node: SyntaxNode) => {
      const nameNode = node.childForFieldName('name');
      if (!nameNode) return;
      const name = nameNode.text;
      // The class it extends.
      let base: string | undefined;
      let end: SyntaxNode | undefined;
      if (py) {
        const sup = node.childForFieldName('superclasses');
        const first = sup?.namedChildren.find((c) => c && (c.type === 'identifier' || c.type === 'attribute'));
        if (first && first.text !== 'object') [base, end] = [first.text, sup!];
      } else {
        const heritage = node.namedChildren.find((c) => c?.type === 'class_heritage');
        const ext = heritage?.namedChildren.find((c) => c?.type === 'extends_clause') ?? heritage;
        const value = ext?.type === 'extends_clause' ? (ext.childForFieldName('value') ?? ext.namedChild(0)) : ext?.namedChild(0);
        if (value && ['identifier', 'member_expression'].includes(value.type)) [base, end] = [value.text, value];
      }
      const baseName = base && lastName(base);
      if (baseName && end) {
        out.push({
          kind: 'extends',
          question: `Which class does the class \`${name}\` extend?`,
          accept: [baseName],
          path,
          evidence: slice(text, node, end),
          defines: `class ${name}`,
        });
      }
      const body = node.childForFieldName('body');
      for (const c of body?.namedChildren ?? []) {
        if (!c) continue;
        const def = c.type === 'decorated_definition' ? c.childForFieldName('definition') : c;
        if (!def) continue;
        if (def.type === 'method_definition' || def.type === 'function_definition') {
          const n = def.childForFieldName('name');
          if (n && !/^(constructor|__\w+__)$/.test(n.text)) fn(def, n.text, name, false);
        }
        // Class-level constants (Python: UPPER_CASE = literal).
        if (py && def.type === 'expression_statement') constant(def.namedChild(0), name);
      }
    };
    const constant = (assign: SyntaxNode | null, owner?: string) => {
      if (!assign) return;
      let nameNode: SyntaxNode | null = null;
      let value: SyntaxNode | null = null;
      if (assign.type === 'assignment') [nameNode, value] = [assign.childForFieldName('left'), assign.childForFieldName('right')];
      else if (assign.type === 'variable_declarator')
        [nameNode, value] = [assign.childForFieldName('name'), assign.childForFieldName('value')];
      if (!nameNode || nameNode.type !== 'identifier' || !value) return;
      if (owner && !/^[A-Z][A-Z0-9_]*$/.test(nameNode.text)) return;
      const lit = literal(value);
      if (!lit) return;
      const what = owner ? `\`${owner}.${nameNode.text}\`` : `the constant \`${nameNode.text}\``;
      out.push({
        kind: 'constant',
        question: `What is the value of ${what} in \`${path}\`?`,
        ...lit,
        path,
        evidence: assign.text,
      });
    };
    const top = (node: SyntaxNode) => {
      for (const c0 of node.namedChildren) {
        if (!c0) continue;
        let c: SyntaxNode | null = c0;
        if (c.type === 'export_statement') c = c.childForFieldName('declaration') ?? c.namedChild(0);
        if (c?.type === 'decorated_definition') c = c.childForFieldName('definition');
        if (!c) continue;
        switch (c.type) {
          case 'function_declaration':
          case 'generator_function_declaration':
          case 'function_definition': {
            const n = c.childForFieldName('name');
            if (n) fn(c, n.text, undefined, true);
            break;
          }
          case 'class_declaration':
          case 'class_definition':
          case 'class':
            klass(c);
            break;
          case 'lexical_declaration':
          case 'variable_declaration':
            // const X = literal; const f = (…) => {…}
            for (const d of c.namedChildren) {
              if (d?.type !== 'variable_declarator') continue;
              const value = d.childForFieldName('value');
              const n = d.childForFieldName('name');
              if (value && n?.type === 'identifier' && ['arrow_function', 'function_expression', 'function'].includes(value.type)) {
                fn(value, n.text, undefined, true);
                // The header evidence reads from the declaration: `const f = (a, b) =>`.
                const last = out.at(-1);
                if (last?.kind === 'defines' && last.defines === n.text)
                  last.evidence = slice(text, d, value.childForFieldName('parameters')!);
              } else if (value?.type === 'class') klass(value);
              else if (c.text.startsWith('const') || c.type === 'variable_declaration') constant(d);
            }
            break;
          case 'expression_statement':
            if (py) constant(c.namedChild(0));
            break;
        }
      }
    };
    top(tree.rootNode);
  } finally {
    tree.delete();
  }
  return out;
}

/**
 * The questions a built context can answer: facts from the files that went in (read from `read(path)`, the file
 * as it is on disk), kept only where their evidence is in that file's rendered segment, and only when what they
 * ask is unambiguous in the context (a function or class name defined once). Sampled round-robin over kinds, in
 * a seeded order, at most `max` in all.
 */
export function codeFacts(
  syntax: Syntax,
  ctx: BuiltContext,
  read: (path: string) => string,
  max: number,
  seed: number,
  exclude: (q: Question) => boolean = () => false,
): { questions: Question[]; available: Record<FactKind, number> } {
  const all: Candidate[] = [];
  for (const f of ctx.files) {
    const segment = ctx.text.slice(f.contentStart, f.charEnd);
    for (const c of factsOfFile(syntax, f.path, read(f.path))) {
      const at = segment.indexOf(c.evidence);
      if (at < 0 || segment.indexOf(c.evidence, at + 1) >= 0) continue;
      // Depth of the evidence in the context, by characters inside the file's token range.
      const share = (f.contentStart + at - f.charStart) / Math.max(1, f.charEnd - f.charStart);
      c.depth = (f.tokenStart + share * (f.tokenEnd - f.tokenStart)) / ctx.totalTokens;
      all.push(c);
    }
  }
  // Unambiguous only: a function, method or class name defined once in the context; a question asked once.
  const defined = new Map<string, number>();
  for (const c of all) if (c.defines) defined.set(c.defines, (defined.get(c.defines) ?? 0) + 1);
  const basenames = new Map<string, number>();
  for (const f of ctx.files) {
    const b = f.path.slice(f.path.lastIndexOf('/') + 1);
    basenames.set(b, (basenames.get(b) ?? 0) + 1);
  }
  const seen = new Set<string>();
  const usable = all.filter((c) => {
    if (c.defines && defined.get(c.defines)! > 1) return false;
    if (seen.has(c.question) || exclude(c)) return false;
    seen.add(c.question);
    // A file name is accepted alone only when no other file in the context has it.
    if (c.kind === 'defines' && basenames.get(c.accept[1]!)! > 1) c.accept = [c.accept[0]!];
    return true;
  });
  const available = Object.fromEntries(FACT_KINDS.map((k) => [k, usable.filter((c) => c.kind === k).length])) as Record<FactKind, number>;

  const random = mulberry32(seed);
  const shuffle = <T>(xs: T[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  const queues = FACT_KINDS.map((k) => shuffle(usable.filter((c) => c.kind === k)));
  const picked: Question[] = [];
  const perAnswer = new Map<string, number>();
  // At most a quarter of the questions share an answer (a file, a value such as None), unless that leaves fewer
  // than `max`: then a second pass takes the rest in the same order.
  const answerCap = Math.max(3, Math.floor(max / 4));
  const taken = new Set<Candidate>();
  for (const capped of [true, false]) {
    for (let progress = true; picked.length < max && progress;) {
      progress = false;
      for (const q of queues) {
        for (const c of q) {
          if (picked.length >= max) break;
          if (taken.has(c)) continue;
          const key = c.kind === 'defines' ? c.path : c.accept[0]!.toLowerCase();
          if (capped && (perAnswer.get(key) ?? 0) >= answerCap) continue;
          perAnswer.set(key, (perAnswer.get(key) ?? 0) + 1);
          taken.add(c);
          const { evidence: _e, defines: _d, ...question } = c;
          picked.push(question);
          progress = true;
          break;
        }
      }
    }
  }
  return { questions: picked, available };
}

/** Whether an answer holds one of the accepted strings, not as part of a longer word or number. */
export function isCorrect(answer: string, q: Pick<Question, 'accept' | 'ignoreCase'>): boolean {
  const hay = q.ignoreCase ? answer.toLowerCase() : answer;
  return q.accept.some((a0) => {
    const a = q.ignoreCase ? a0.toLowerCase() : a0;
    for (let at = hay.indexOf(a); at >= 0; at = hay.indexOf(a, at + 1)) {
      const before = hay[at - 1];
      const after = hay[at + a.length];
      const word = /[\w]/;
      if (word.test(a[0]!) && before !== undefined && word.test(before)) continue;
      // A number followed by a digit or a decimal part is another number; a name followed by a word character another name.
      if (
        word.test(a.at(-1)!) &&
        after !== undefined &&
        (word.test(after) || (/\d$/.test(a) && after === '.' && /\d/.test(hay[at + a.length + 1] ?? '')))
      )
        continue;
      return true;
    }
    return false;
  });
}
