// Outlines: a file too large to go in whole goes in as its skeleton. Everything stays verbatim (imports, type
// and class declarations, fields, signatures, comments and docstrings) except the bodies of functions and
// methods that span more than one line, each replaced by a placeholder (`{ … }`, or `...` in Python after the
// docstring), and Python docstrings past their first paragraph (`…`). The segment header says bodies are left
// out, so the model knows to say so rather than guess.
import type { LanguageId, Syntax, SyntaxNode } from './syntax.ts';
import { languageOf } from './syntax.ts';

interface Shape {
  /** Node types whose `body` field holds the code to leave out. */
  functions: ReadonlySet<string>;
  /** Body node types that are elided (an arrow function's expression body is not). */
  blocks: ReadonlySet<string>;
}

const JS: Shape = {
  functions: new Set([
    'function_declaration',
    'generator_function_declaration',
    'function_expression',
    'function',
    'generator_function',
    'arrow_function',
    'method_definition',
  ]),
  blocks: new Set(['statement_block']),
};

const SHAPES: Record<LanguageId, Shape> = {
  typescript: JS,
  tsx: JS,
  javascript: JS,
  python: { functions: new Set(['function_definition']), blocks: new Set(['block']) },
  go: { functions: new Set(['function_declaration', 'method_declaration', 'func_literal']), blocks: new Set(['block']) },
  rust: { functions: new Set(['function_item', 'closure_expression']), blocks: new Set(['block']) },
  java: {
    functions: new Set(['method_declaration', 'constructor_declaration', 'lambda_expression', 'compact_constructor_declaration']),
    blocks: new Set(['block', 'constructor_body']),
  },
  cpp: { functions: new Set(['function_definition', 'lambda_expression']), blocks: new Set(['compound_statement']) },
};

/** An outline under this share of the whole file is worth having; above it the file goes in whole or not at all. */
export const OUTLINE_MAX_SHARE = 0.85;

export const OUTLINE_NOTE = 'outline: function bodies left out';

interface Cut {
  start: number;
  end: number;
  with: string;
}

/** The docstring a Python body starts with, if any: it stays in the outline. */
function pythonDocstring(block: SyntaxNode): SyntaxNode | undefined {
  const first = block.namedChild(0);
  if (first?.type === 'expression_statement' && first.namedChild(0)?.type === 'string') return first;
  return undefined;
}

/** A long docstring keeps its first paragraph: the summary is the part an outline reader needs. */
function docstringCut(doc: SyntaxNode): Cut | undefined {
  const text = doc.text;
  const close = /("""|''')$/.exec(text);
  const blank = /\n[ \t]*\n/.exec(text);
  if (!close || !blank || blank.index >= text.length - 3) return undefined;
  const indent = ' '.repeat(doc.startPosition.column);
  return { start: doc.startIndex + blank.index, end: doc.endIndex - 3, with: `\n${indent}…\n${indent}` };
}

function cutsFor(language: LanguageId, body: SyntaxNode): Cut[] {
  if (body.startPosition.row === body.endPosition.row) return [];
  if (language !== 'python') return [{ start: body.startIndex, end: body.endIndex, with: '{ … }' }];
  const doc = pythonDocstring(body);
  if (!doc) return [{ start: body.startIndex, end: body.endIndex, with: '...' }];
  const trimmed = docstringCut(doc);
  if (doc.endIndex >= body.endIndex) return trimmed ? [trimmed] : [];
  const indent = ' '.repeat(doc.startPosition.column);
  return [...(trimmed ? [trimmed] : []), { start: doc.endIndex, end: body.endIndex, with: `\n${indent}...` }];
}

/** The cuts that turn a file into its outline, in text order, none nested. */
function cuts(language: LanguageId, root: SyntaxNode): Cut[] {
  const shape = SHAPES[language];
  const out: Cut[] = [];
  const cursor = root.walk();
  const parents: string[] = [];
  try {
    for (;;) {
      const type = cursor.nodeType;
      const parent = parents[parents.length - 1];
      let descend = true;
      if (parent && shape.functions.has(parent) && cursor.currentFieldName === 'body' && shape.blocks.has(type)) {
        const list = cutsFor(language, cursor.currentNode);
        if (list.length > 0) {
          out.push(...list);
          descend = false;
        }
      } else if (language === 'python' && (type === 'module' || type === 'block')) {
        // A module's or a class's docstring.
        const doc = pythonDocstring(cursor.currentNode);
        const trimmed = doc && docstringCut(doc);
        if (trimmed) out.push(trimmed);
      }
      if (descend && cursor.gotoFirstChild()) {
        parents.push(type);
        continue;
      }
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return out;
        parents.pop();
      }
    }
  } finally {
    cursor.delete();
  }
}

/**
 * The outline of a file in a supported language, or undefined: no grammar, nothing to leave out, or too little
 * saved to be worth it.
 */
export function outlineOf(syntax: Syntax, path: string, text: string): string | undefined {
  const language = languageOf(path);
  if (!language) return undefined;
  const tree = syntax.parse(path, text);
  if (!tree) return undefined;
  let list: Cut[];
  try {
    list = cuts(language, tree.rootNode);
  } finally {
    tree.delete();
  }
  if (list.length === 0) return undefined;
  const parts: string[] = [];
  let at = 0;
  for (const c of list) {
    parts.push(text.slice(at, c.start), c.with);
    at = c.end;
  }
  parts.push(text.slice(at));
  const outline = parts.join('');
  return outline.length <= OUTLINE_MAX_SHARE * text.length ? outline : undefined;
}
