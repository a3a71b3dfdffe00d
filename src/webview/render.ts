// Markdown → safe HTML for model answers. Model output is data: raw HTML is off in markdown-it, the result goes
// through DOMPurify, only http(s) links survive, and file paths become in-view links the host validates on click.
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import type StateCore from 'markdown-it/lib/rules_core/state_core.mjs';
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import cpp from 'highlight.js/lib/languages/cpp';
import go from 'highlight.js/lib/languages/go';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import typescript from 'highlight.js/lib/languages/typescript';
import { findPaths, type PathMatch } from './paths.ts';

const LANGUAGES = { bash, cpp, go, javascript, json, python, rust, typescript } as const;
for (const [name, lang] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, lang);
hljs.registerAliases(['sh', 'shell'], { languageName: 'bash' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['js', 'jsx', 'mjs', 'cjs'], { languageName: 'javascript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['c', 'h', 'hpp', 'cc'], { languageName: 'cpp' });

const md: MarkdownIt = new MarkdownIt({
  html: false,
  linkify: false,
  highlight: (code, lang) => {
    const name = lang.trim().toLowerCase();
    if (!name || !hljs.getLanguage(name)) return '';
    return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
  },
});
// Remote images would break the CSP at best and track the user at worst.
md.disable('image');

function fileLinkAttrs(ref: PathMatch): [string, string][] {
  const attrs: [string, string][] = [
    ['href', '#'],
    ['class', 'file-link'],
    ['data-file', ref.path],
    ['title', ref.line ? `Open ${ref.path} at line ${ref.line}` : `Open ${ref.path}`],
  ];
  if (ref.line) attrs.push(['data-line', String(ref.line)]);
  return attrs;
}

function linkTokens(state: StateCore, ref: PathMatch, inner: Token[]): Token[] {
  const open = new state.Token('link_open', 'a', 1);
  open.attrs = fileLinkAttrs(ref);
  return [open, ...inner, new state.Token('link_close', 'a', -1)];
}

/** Whether a file reference is drawn as a link: each one until the host has checked them, then those it found. */
function linkable(state: StateCore, ref: PathMatch): boolean {
  const links = (state.env as RenderEnv | undefined)?.links;
  return !links || links.has(ref.path);
}

md.core.ruler.push('file_links', (state) => {
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) continue;
    const out: Token[] = [];
    let inLink = 0;
    /** A model-written link dressed as a file link to no file of the workspace: drawn as its text only. */
    let dropping = false;
    for (const [i, t] of block.children.entries()) {
      if (t.type === 'link_open') {
        inLink++;
        if (!disarmLink(t, block.children, i, (ref) => linkable(state, ref))) {
          dropping = true;
          continue;
        }
      }
      if (t.type === 'link_close') {
        inLink--;
        if (dropping) {
          dropping = false;
          continue;
        }
      }
      if (inLink > 0 || (t.type !== 'text' && t.type !== 'code_inline')) {
        out.push(t);
        continue;
      }
      const refs = findPaths(t.content).filter((ref) => linkable(state, ref));
      if (t.type === 'code_inline') {
        const only = refs.length === 1 && refs[0]!.text === t.content.trim() ? refs[0] : undefined;
        out.push(...(only ? linkTokens(state, only, [t]) : [t]));
        continue;
      }
      let at = 0;
      for (const ref of refs) {
        if (ref.index > at) out.push(textToken(state, t.content.slice(at, ref.index)));
        out.push(...linkTokens(state, ref, [textToken(state, ref.text)]));
        at = ref.index + ref.text.length;
      }
      if (at < t.content.length) out.push(at === 0 ? t : textToken(state, t.content.slice(at)));
    }
    block.children = out;
  }
});

/**
 * A model-written link that looks like a file link (its text or its title names a file) opens that file, never
 * the site it points to; any other link's tooltip is its real destination, not a title the model chose. False when
 * it names a file that is not in the workspace: then it is no link at all.
 */
function disarmLink(open: Token, children: Token[], at: number, allowed: (ref: PathMatch) => boolean): boolean {
  const href = open.attrGet('href') ?? '';
  if (href === '#') return true;
  let text = '';
  for (let j = at + 1; j < children.length && children[j]!.type !== 'link_close'; j++) text += children[j]!.content;
  const title = (open.attrGet('title') ?? '').replace(/^Open\s+/i, '').replace(/\s+at line (\d+)$/i, ':$1');
  const ref = [text.trim(), title.trim()].map((s) => findPaths(s).find((r) => r.text === s)).find((r) => r);
  if (ref && !allowed(ref)) return false;
  if (ref) open.attrs = fileLinkAttrs(ref);
  else open.attrSet('title', href);
  return true;
}

function textToken(state: StateCore, content: string): Token {
  const t = new state.Token('text', '', 0);
  t.content = content;
  return t;
}

const SAFE_HREF = /^(?:https?:\/\/|#$)/i;
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName !== 'A') return;
  const href = node.getAttribute('href');
  if (href !== null && !SAFE_HREF.test(href)) node.removeAttribute('href');
  node.removeAttribute('target');
});

interface RenderEnv {
  /** The paths (as written) the host found to be workspace files; absent, every path-looking word is a link. */
  links?: ReadonlySet<string>;
}

/** Renders untrusted markdown to HTML that is safe to assign to innerHTML in this webview. */
export function renderMarkdown(text: string, links?: ReadonlySet<string>): string {
  const env: RenderEnv = links ? { links } : {};
  return DOMPurify.sanitize(md.render(text, env), {
    FORBID_TAGS: ['style', 'img', 'svg', 'math', 'form', 'input', 'button', 'iframe', 'object', 'embed'],
    FORBID_ATTR: ['style'],
    ALLOW_DATA_ATTR: false,
    ADD_ATTR: ['data-file', 'data-line'],
  });
}
