// Outlines: a file too large to go in whole goes in as its skeleton. Everything stays verbatim (imports, type
// and class declarations, fields, signatures, comments and docstrings) except the bodies of functions and
// methods that span more than one line, each replaced by a placeholder (`{ … }`, or `...` in Python after the
// docstring), and Python docstrings past their first paragraph (`…`). The segment header says bodies are left
// out, so the model knows to say so rather than guess.
//
// The tighter 'signatures' level also leaves out comments and docstrings: a budget too small for every central
// file's outline still holds every central file's declarations (Jinja2's 11 top-ranked modules need 28.6K
// tokens as outlines, 19K as signatures, against 22.6K at 10% of its tokens).
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

export type OutlineLevel = 'outline' | 'signatures';

export const OUTLINE_NOTES: Record<OutlineLevel, string> = {
  outline: 'outline: function bodies left out',
  signatures: 'outline: function bodies, comments and docstrings left out',
};

interface Cut {
  start: number;
  end: number;
  with: string;
  /** Also remove the line's indentation and line break when nothing else is on it. */
  line?: true;
}

function lineCut(node: SyntaxNode): Cut {
  return { start: node.startIndex, end: node.endIndex, with: '', line: true };
}

/** The docstring a Python body starts with, if any: it stays in the outline. */
function pythonDocstring(block: SyntaxNode): SyntaxNode | undefined {
  const first = block.namedChild(0);
  if (first?.type === 'expression_statement' && first.namedChild(0)?.type === 'string') return first;
  return undefined;
}

/** A long docstring keeps its first paragraph: the summary is the part an outline reader needs. */
function docstringCut(doc: SyntaxNode, level: OutlineLevel): Cut | undefined {
  const text = doc.text;
  const close = /("""|''')$/.exec(text);
  if (level === 'signatures') return close ? lineCut(doc) : undefined;
  const blank = /\n[ \t]*\n/.exec(text);
  if (!close || !blank || blank.index >= text.length - 3) return undefined;
  const indent = ' '.repeat(doc.startPosition.column);
  return { start: doc.startIndex + blank.index, end: doc.endIndex - 3, with: `\n${indent}…\n${indent}` };
}

function cutsFor(language: LanguageId, body: SyntaxNode, level: OutlineLevel): Cut[] {
  if (body.startPosition.row === body.endPosition.row) return [];
  if (language !== 'python') return [{ start: body.startIndex, end: body.endIndex, with: '{ … }' }];
  const doc = pythonDocstring(body);
  if (!doc || level === 'signatures') return [{ start: body.startIndex, end: body.endIndex, with: '...' }];
  const trimmed = docstringCut(doc, level);
  if (doc.endIndex >= body.endIndex) return trimmed ? [trimmed] : [];
  const indent = ' '.repeat(doc.startPosition.column);
  return [...(trimmed ? [trimmed] : []), { start: doc.endIndex, end: body.endIndex, with: `\n${indent}...` }];
}

/** The cuts that turn a file into its outline, in text order, none nested. */
function cuts(language: LanguageId, root: SyntaxNode, level: OutlineLevel): Cut[] {
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
        const list = cutsFor(language, cursor.currentNode, level);
        if (list.length > 0) {
          out.push(...list);
          descend = false;
        }
      } else if (level === 'signatures' && type === 'comment') {
        out.push(lineCut(cursor.currentNode));
        descend = false;
      } else if (language === 'python' && (type === 'module' || type === 'block')) {
        // A module's or a class's docstring.
        const doc = pythonDocstring(cursor.currentNode);
        const trimmed = doc && docstringCut(doc, level);
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

/** A line cut's span widened to its whole line when nothing else is on it (and nothing before it was cut). */
function wholeLine(text: string, c: Cut, at: number): [number, number] {
  const lineStart = text.lastIndexOf('\n', c.start - 1) + 1;
  const next = text.indexOf('\n', c.end);
  const lineEnd = next < 0 ? text.length : next + 1;
  const alone = lineStart >= at && /^[ \t]*$/.test(text.slice(lineStart, c.start)) && /^\r?\n?$/.test(text.slice(c.end, lineEnd));
  return alone ? [lineStart, lineEnd] : [c.start, c.end];
}

/**
 * The outline of a file in a supported language, or undefined: no grammar, nothing to leave out, or too little
 * saved to be worth it.
 */
export function outlineOf(syntax: Syntax, path: string, text: string, level: OutlineLevel = 'outline'): string | undefined {
  const language = languageOf(path);
  if (!language) return undefined;
  const tree = syntax.parse(path, text);
  if (!tree) return undefined;
  let list: Cut[];
  try {
    list = cuts(language, tree.rootNode, level);
  } finally {
    tree.delete();
  }
  if (list.length === 0) return undefined;
  const parts: string[] = [];
  let at = 0;
  for (const c of list) {
    const [start, end] = c.line ? wholeLine(text, c, at) : [c.start, c.end];
    parts.push(text.slice(at, start), c.with);
    at = end;
  }
  parts.push(text.slice(at));
  const outline = parts.join('');
  return outline.length <= OUTLINE_MAX_SHARE * text.length ? outline : undefined;
}
