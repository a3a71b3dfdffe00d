// Imports: what a file names of other files, read with tree-sitter queries (one compiled query per language,
// run in the parser's own C code). Each import is a list of alternatives, most specific first: `from a import b`
// may name the module a.b or the name b inside a; the resolver takes the first that is a file of the workspace.
import type { LanguageId, Syntax, SyntaxNode } from './syntax.ts';
import { languageOf } from './syntax.ts';

export type ImportSpec = string[];

const JS_QUERY = `
(import_statement source: (string) @spec)
(export_statement source: (string) @spec)
(call_expression function: (identifier) @_f arguments: (arguments . (string) @spec) (#eq? @_f "require"))
(call_expression function: (import) arguments: (arguments . (string) @spec))
`;

const QUERIES: Record<LanguageId, string> = {
  typescript: JS_QUERY,
  tsx: JS_QUERY,
  javascript: JS_QUERY,
  python: '(import_statement) @stmt (import_from_statement) @stmt',
  go: '(import_spec path: (_) @spec)',
  rust: '(mod_item name: (identifier) @mod !body) (use_declaration argument: (_) @use)',
  java: '(import_declaration) @stmt',
  cpp: '(preproc_include path: (_) @spec)',
};

const unquote = (s: string): string => s.replace(/^[`'"<]|[`'">]$/g, '');

function python(stmt: SyntaxNode): ImportSpec[] {
  const names = stmt.childrenForFieldName('name').flatMap((n) => {
    const name = n?.type === 'aliased_import' ? n.childForFieldName('name') : n;
    return name ? [name.text] : [];
  });
  if (stmt.type === 'import_statement') return names.map((n) => [n]);
  const module = stmt.childForFieldName('module_name')?.text ?? '';
  const join = (n: string): string => (module.endsWith('.') ? module + n : `${module}.${n}`);
  if (names.length === 0) return [[module]]; // from a import *
  return names.map((n) => [join(n), module]);
}

function rust(capture: string, node: SyntaxNode): ImportSpec[] {
  if (capture === 'mod') return [[`mod:${node.text}`]];
  // `use a::b::{c, d::e}`: each leaf path, then its parents (the leaf may be an item, not a module).
  const out: ImportSpec[] = [];
  const walk = (n: SyntaxNode, prefix: string): void => {
    if (n.type === 'scoped_use_list') {
      const path = n.childForFieldName('path')?.text;
      const list = n.childForFieldName('list');
      const p = path ? `${prefix}${path}::` : prefix;
      for (const c of list?.namedChildren ?? []) if (c) walk(c, p);
    } else if (n.type === 'use_list') {
      for (const c of n.namedChildren) if (c) walk(c, prefix);
    } else if (n.type === 'use_as_clause') {
      const path = n.childForFieldName('path');
      if (path) walk(path, prefix);
    } else if (n.type === 'use_wildcard') {
      out.push([`${prefix}${n.text.replace(/::\*$/, '')}`]);
    } else {
      const full = `${prefix}${n.text}`;
      const parts = full.split('::');
      out.push(parts.map((_, i) => parts.slice(0, parts.length - i).join('::')).slice(0, Math.max(1, parts.length - 1)));
    }
  };
  walk(node, '');
  return out;
}

function java(stmt: SyntaxNode): ImportSpec[] {
  const text = stmt.text
    .replace(/^import\s+(static\s+)?/, '')
    .replace(/\s*;\s*$/, '')
    .replace(/\s+/g, '');
  const parts = text.split('.');
  // A static import names a member: its class is the parent.
  return [text.endsWith('.*') ? [text] : parts.map((_, i) => parts.slice(0, parts.length - i).join('.')).slice(0, 2)];
}

/** The imports of a file, or undefined when it is in no supported language. */
export function importsOf(syntax: Syntax, path: string, text: string): ImportSpec[] | undefined {
  const language = languageOf(path);
  if (!language) return undefined;
  const query = syntax.query(language, QUERIES[language]);
  const tree = syntax.parse(path, text);
  if (!query || !tree) return undefined;
  try {
    const out: ImportSpec[] = [];
    for (const { name, node } of query.captures(tree.rootNode)) {
      if (name.startsWith('_')) continue;
      if (language === 'python') out.push(...python(node));
      else if (language === 'rust') out.push(...rust(name, node));
      else if (language === 'java') out.push(...java(node));
      else if (language === 'cpp') out.push([node.type === 'system_lib_string' ? `<${unquote(node.text)}` : unquote(node.text)]);
      else out.push([unquote(node.text)]);
    }
    return out;
  } finally {
    tree.delete();
  }
}
