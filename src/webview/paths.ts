// File references in free text (model answers): the sidebar draws them as links, and the host checks which of them
// are files of the workspace, so that only those are drawn.

const SOURCE_EXT = new Set(
  'ts tsx js jsx mjs cjs json md txt py rs go java kt c h cc cpp hpp cs rb php swift sh yml yaml toml css scss html vue svelte sql lua zig'.split(
    ' ',
  ),
);
/** A path-looking word, optionally with `:line`, `:line:col` or `:line-line`. */
const PATH_RE =
  /(?<![\w/.@-])((?:\.{1,2}\/)*(?:[\w@-][\w.@-]*\/)*[\w@-][\w.@-]*\.([A-Za-z][A-Za-z0-9]{0,7}))(?::(\d{1,7})(?:[-:]\d{1,7})?)?(?![\w/])/g;

export interface PathMatch {
  index: number;
  text: string;
  path: string;
  line?: number;
}

/** File references in free text: a path with a slash, a line number, or a common source extension. */
export function findPaths(text: string): PathMatch[] {
  const out: PathMatch[] = [];
  for (const m of text.matchAll(PATH_RE)) {
    const [whole, p, ext, line] = m;
    if (!p || !ext) continue;
    if (!p.includes('/') && !line && !SOURCE_EXT.has(ext.toLowerCase())) continue;
    out.push({ index: m.index ?? 0, text: whole, path: p, ...(line ? { line: Number(line) } : {}) });
  }
  return out;
}
