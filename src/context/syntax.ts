// tree-sitter for the context builder: which grammar a file takes, and the parser that reads it.
//
// Runtime and grammars both come from @vscode/tree-sitter-wasm (Microsoft's build of web-tree-sitter and the
// grammars VS Code itself parses with), so the runtime and every grammar come from one build and their ABI
// versions match by construction; `loadSyntax` still checks each grammar's ABI against the runtime's range and
// says which grammar is off. That package has no C grammar: C files are parsed with the C++ grammar, which
// covers C's declarations, includes and function bodies. The bundles carry the .wasm files in
// dist/tree-sitter/ (esbuild.mjs copies them); from source they load from node_modules.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TreeSitter from '@vscode/tree-sitter-wasm';

export type LanguageId = 'typescript' | 'tsx' | 'javascript' | 'python' | 'go' | 'rust' | 'java' | 'cpp';
export type Tree = TreeSitter.Tree;
export type SyntaxNode = TreeSitter.Node;

/** Grammar per file extension (lower case, without the dot). */
const BY_EXTENSION: Record<string, LanguageId> = {
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'tsx',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  py: 'python',
  pyi: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  c: 'cpp',
  h: 'cpp',
  cc: 'cpp',
  cpp: 'cpp',
  cxx: 'cpp',
  'c++': 'cpp',
  hpp: 'cpp',
  hh: 'cpp',
  hxx: 'cpp',
  'h++': 'cpp',
  ipp: 'cpp',
  inl: 'cpp',
};

export const LANGUAGES: readonly LanguageId[] = ['typescript', 'tsx', 'javascript', 'python', 'go', 'rust', 'java', 'cpp'];

export function languageOf(path: string): LanguageId | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  if (name.endsWith('.d.ts')) return 'typescript';
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
}

/** Where the .wasm files are: next to the bundle when bundled, else in the npm package. */
export function wasmDir(): string {
  // The bundle's own folder (esbuild.mjs gives the CommonJS extension bundle an import.meta.url too), or src/context.
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'tree-sitter');
  if (existsSync(join(bundled, 'tree-sitter.wasm'))) return bundled;
  return join(dirname(createRequire(join(here, 'x.js')).resolve('@vscode/tree-sitter-wasm/package.json')), 'wasm');
}

export class Syntax {
  private readonly parser: TreeSitter.Parser;

  constructor(
    private readonly ts: typeof TreeSitter,
    private readonly languages: ReadonlyMap<LanguageId, TreeSitter.Language>,
  ) {
    this.parser = new ts.Parser();
  }

  /** The tree of a file in a supported language; undefined for other files. The caller deletes the tree. */
  parse(path: string, text: string): Tree | undefined {
    const id = languageOf(path);
    const language = id && this.languages.get(id);
    if (!language) return undefined;
    this.parser.setLanguage(language);
    return this.parser.parse(text) ?? undefined;
  }

  /** A compiled query for a language, cached: queries are costly to build and cheap to run. */
  query(id: LanguageId, source: string): TreeSitter.Query | undefined {
    const key = `${id}\0${source}`;
    let q = this.queries.get(key);
    if (q === undefined) {
      const language = this.languages.get(id);
      if (!language) return undefined;
      q = new this.ts.Query(language, source);
      this.queries.set(key, q);
    }
    return q;
  }

  private readonly queries = new Map<string, TreeSitter.Query>();
}

let loaded: Promise<Syntax> | undefined;

/** Initialises the runtime and every grammar once per process (about 60 ms, a few MB). */
export function loadSyntax(): Promise<Syntax> {
  loaded ??= (async () => {
    const dir = wasmDir();
    // The runtime is a CommonJS script (tree-sitter.cjs next to the bundles, tree-sitter.js in the package).
    const script = existsSync(join(dir, 'tree-sitter.cjs')) ? 'tree-sitter.cjs' : 'tree-sitter.js';
    const ts = createRequire(join(dir, 'x.js'))(join(dir, script)) as typeof TreeSitter;
    await ts.Parser.init({ locateFile: (file: string) => join(dir, file) });
    const languages = new Map<LanguageId, TreeSitter.Language>();
    const probe = new ts.Parser();
    try {
      for (const id of LANGUAGES) {
        const language = await ts.Language.load(readFileSync(join(dir, `tree-sitter-${id}.wasm`)));
        // setLanguage is where the runtime checks the grammar's ABI against its supported range.
        try {
          probe.setLanguage(language);
        } catch (e) {
          throw new Error(`tree-sitter grammar ${id} (ABI ${language.abiVersion}) does not load in this runtime: ${(e as Error).message}`);
        }
        languages.set(id, language);
      }
    } finally {
      probe.delete();
    }
    return new Syntax(ts, languages);
  })();
  return loaded;
}
