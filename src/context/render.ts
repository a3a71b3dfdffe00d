// Rendering: each file is one segment, a header line naming it and then its content verbatim.
//
// No per-line number markers. Measured with the Qwen tokenizer on node_modules code (bench/results/context.json,
// `lineMarkers`): `N| ` before every line costs +37% tokens, before every 10th line +4%. A third more KV for
// line numbers the model could mostly not use exactly anyway is a bad trade when KV is the scarce thing.
// Citations still resolve to lines: every file records where its content starts in the text (contentStart),
// so a character offset, a token position or a quoted snippet maps back to path:line (`locate`,
// `findSnippet`); the prompt asks the model to cite a path and quote the line.
//
// Only a header starts a line with `===`: a line of a file's content that does (`=== src/other.ts ===`) gets a
// backslash in front, so no file can forge the header of another file, or end its own early. Lines stay where
// they are, so line numbers hold; such a line's columns move by one.
//
// Each segment is tokenized on its own and the ids concatenated. A segment ends with a newline and the next
// starts with `===`, a pre-tokenizer boundary for BPE tokenizers, so this matches tokenizing the whole text
// (the bench checks it), and an unchanged file keeps exactly the same ids wherever it lands: refresh reuses
// the prefix KV token for token.
import { OUTLINE_NOTES, type OutlineLevel } from './outline.ts';
import type { ContextFile } from './types.ts';

/** Bump when the rendered bytes change for the same files: it invalidates stored fingerprints. */
export const FORMAT_VERSION = 3;

/** A file's header line; an outline's names what its level leaves out. */
export function header(path: string, outline: OutlineLevel | boolean = false): string {
  // Control characters (a newline in a file name) would break the header line; JSON-quote such names.
  const shown = /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
  return outline ? `=== ${shown} (${OUTLINE_NOTES[outline === true ? 'outline' : outline]}) ===\n` : `=== ${shown} ===\n`;
}

export interface Segment {
  text: string;
  /** Offset of the file's content within text. */
  contentOffset: number;
}

/** A line start: after any character a model or an editor may read as a line break. */
const HEADER_LIKE = /(^|[\n\r\v\f\u0085\u2028\u2029])===/g;

/** Content as it goes in: a line starting with `===` gets a backslash first (only headers start so). */
export function escapeContent(content: string): string {
  return content.replace(HEADER_LIKE, '$1\\===');
}

export function renderSegment(path: string, content: string, outline: OutlineLevel | false = false): Segment {
  const h = header(path, outline);
  const body = escapeContent(content);
  return { text: body.length === 0 || body.endsWith('\n') ? h + body : h + body + '\n', contentOffset: h.length };
}

export interface Location {
  path: string;
  /** 1-based line and column within the file. */
  line: number;
  column: number;
}

/** Which file, line and column a character offset of the rendered text falls in; undefined in a header. */
export function locate(text: string, files: readonly ContextFile[], offset: number): Location | undefined {
  let lo = 0;
  let hi = files.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = files[mid]!;
    if (offset < f.charStart) hi = mid - 1;
    else if (offset >= f.charEnd) lo = mid + 1;
    else {
      if (offset < f.contentStart) return undefined;
      let line = 1;
      let lineStart = f.contentStart;
      for (let i = text.indexOf('\n', f.contentStart); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
        line++;
        lineStart = i + 1;
      }
      return { path: f.path, line, column: offset - lineStart + 1 };
    }
  }
  return undefined;
}

/** The file a token position falls in (binary search over token ranges). */
export function fileAtToken(files: readonly ContextFile[], token: number): ContextFile | undefined {
  let lo = 0;
  let hi = files.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = files[mid]!;
    if (token < f.tokenStart) hi = mid - 1;
    else if (token >= f.tokenEnd) lo = mid + 1;
    else return f;
  }
  return undefined;
}

/** Lines where a quoted snippet occurs in a file, so a model's quote becomes a path:line citation. */
export function findSnippet(text: string, file: ContextFile, snippet: string): number[] {
  const lines: number[] = [];
  const body = text.slice(file.contentStart, file.charEnd);
  for (let i = body.indexOf(snippet); i >= 0 && snippet.length > 0; i = body.indexOf(snippet, i + 1)) {
    let line = 1;
    for (let j = body.indexOf('\n'); j >= 0 && j < i; j = body.indexOf('\n', j + 1)) line++;
    lines.push(line);
  }
  return lines;
}
