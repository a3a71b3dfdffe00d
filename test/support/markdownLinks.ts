// The relative links and images of a markdown page, and the anchors its headings make, read with markdown-it (so
// a link inside a code block is no link): what the README and docs tests check resolve, in the repository and in
// the .vsix.
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import { posix } from 'node:path';

export interface PageLink {
  /** The target as written, without its anchor. Empty for an anchor into the same page. */
  path: string;
  anchor?: string;
  image: boolean;
}

const md = new MarkdownIt({ html: false });

function walk(tokens: Token[], visit: (t: Token) => void): void {
  for (const t of tokens) {
    visit(t);
    if (t.children) walk(t.children, visit);
  }
}

/** Links and images that point into the page's own folder tree (no scheme, no protocol-relative URL). */
export function relativeLinks(markdown: string): PageLink[] {
  const out: PageLink[] = [];
  walk(md.parse(markdown, {}), (t) => {
    const href = t.type === 'link_open' ? t.attrGet('href') : t.type === 'image' ? t.attrGet('src') : null;
    if (href === null || /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) return;
    const hash = href.indexOf('#');
    const path = decodeURI(hash < 0 ? href : href.slice(0, hash));
    out.push({ path, anchor: hash < 0 ? undefined : decodeURI(href.slice(hash + 1)), image: t.type === 'image' });
  });
  return out;
}

/** The anchors of a page's headings as GitHub makes them: lower case, punctuation dropped, spaces as hyphens. */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const tokens = md.parse(markdown, {});
  tokens.forEach((t, i) => {
    if (t.type !== 'heading_open') return;
    const base = tokens[i + 1]!.content.toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    if (n) seen.set(`${base}-${n}`, 1);
  });
  return new Set(seen.keys());
}

/** Where a link of the page at `page` (a path relative to a root, POSIX) points, relative to the same root. */
export function resolveLink(page: string, link: PageLink): string {
  return link.path === '' ? page : posix.normalize(posix.join(posix.dirname(page), link.path));
}
