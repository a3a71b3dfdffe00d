// Import resolution: which workspace files an import names, by each language's own lookup rules, over the
// list of candidate paths (no I/O). Imports of anything outside the workspace (packages, the standard
// library) resolve to nothing and make no edge.
import { posix } from 'node:path';
import type { ImportSpec } from './imports.ts';
import { languageOf } from './syntax.ts';

/** Module declarations read from manifests: a go.mod's module path, a Cargo.toml's package name. */
export interface Manifests {
  goModules: { dir: string; module: string }[];
  crates: { dir: string; name: string }[];
}

export function readManifest(path: string, text: string, into: Manifests): void {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
  if (name === 'go.mod') {
    const m = /^module\s+(\S+)/m.exec(text);
    if (m) into.goModules.push({ dir, module: m[1]! });
  } else if (name === 'Cargo.toml') {
    const m = /^\[package\][^[]*?^name\s*=\s*"([^"]+)"/ms.exec(text);
    if (m) into.crates.push({ dir, name: m[1]!.replace(/-/g, '_') });
  }
}

const JS_EXTENSIONS = ['.ts', '.tsx', '.d.ts', '.js', '.jsx', '.mjs', '.cjs', '.mts', '.cts'];

const join = (dir: string, rel: string): string => {
  const p = posix.normalize(dir ? `${dir}/${rel}` : rel);
  return p === '.' ? '' : p.replace(/\/$/, '');
};

export class Resolver {
  private readonly files: Set<string>;
  /** File name -> paths with that name, for suffix lookups (C includes, Java classes). */
  private readonly byName = new Map<string, string[]>();
  /** Folder -> its files. */
  private readonly byDir = new Map<string, string[]>();
  /** Python: dotted module name (from its import root) -> path. */
  private readonly pyModules = new Map<string, string>();

  constructor(
    paths: readonly string[],
    private readonly manifests: Manifests,
  ) {
    this.files = new Set(paths);
    for (const p of paths) {
      const slash = p.lastIndexOf('/');
      const name = p.slice(slash + 1);
      const dir = slash < 0 ? '' : p.slice(0, slash);
      (this.byName.get(name) ?? this.byName.set(name, []).get(name)!).push(p);
      (this.byDir.get(dir) ?? this.byDir.set(dir, []).get(dir)!).push(p);
    }
    for (const p of paths) if (p.endsWith('.py') || p.endsWith('.pyi')) this.pyModules.set(this.pythonModule(p), p);
  }

  /** A Python file's module name: its path from the first folder up that is not a package (no __init__.py). */
  private pythonModule(path: string): string {
    const parts = path.replace(/\.pyi?$/, '').split('/');
    if (parts[parts.length - 1] === '__init__') parts.pop();
    let start = parts.length - (path.endsWith('__init__.py') ? 0 : 1);
    while (start > 0 && this.files.has(`${parts.slice(0, start).join('/')}/__init__.py`)) start--;
    return parts.slice(start).join('.');
  }

  private first(candidates: string[]): string[] {
    for (const c of candidates) if (this.files.has(c)) return [c];
    return [];
  }

  private js(spec: string, from: string): string[] {
    const bases = spec.startsWith('.') ? [join(posix.dirname(from), spec)] : [spec, `src/${spec}`];
    const out: string[] = [];
    for (const base of bases) {
      // TypeScript's ES module convention imports './a.js' for the source './a.ts'.
      const stem = base.replace(/\.(m|c)?js$/, '');
      out.push(base, ...JS_EXTENSIONS.map((e) => stem + e), ...JS_EXTENSIONS.map((e) => `${base}/index${e}`));
    }
    return this.first(out);
  }

  private python(spec: string, from: string): string[] {
    const dots = /^\.*/.exec(spec)![0].length;
    if (dots === 0) {
      const hit = this.pyModules.get(spec);
      return hit ? [hit] : [];
    }
    let dir = posix.dirname(from) === '.' ? '' : posix.dirname(from);
    for (let i = 1; i < dots; i++) dir = dir.includes('/') ? posix.dirname(dir) : '';
    const rest = spec.slice(dots).replace(/\./g, '/');
    const base = join(dir, rest);
    return this.first(rest ? [`${base}.py`, `${base}.pyi`, `${base}/__init__.py`] : [`${base ? base + '/' : ''}__init__.py`]);
  }

  private go(spec: string): string[] {
    for (const { dir, module } of this.manifests.goModules) {
      if (spec !== module && !spec.startsWith(`${module}/`)) continue;
      const pkg = join(dir, spec.slice(module.length + 1));
      return (this.byDir.get(pkg) ?? []).filter((p) => p.endsWith('.go') && !p.endsWith('_test.go'));
    }
    return [];
  }

  /** A Rust module path's file: `a/b.rs` or `a/b/mod.rs`. */
  private rustModule(dir: string, segments: string[]): string[] {
    const base = join(dir, segments.join('/'));
    return this.first([`${base}.rs`, `${base}/mod.rs`]);
  }

  private rust(spec: string, from: string): string[] {
    const fromDir = posix.dirname(from) === '.' ? '' : posix.dirname(from);
    const stem = from.slice(from.lastIndexOf('/') + 1).replace(/\.rs$/, '');
    // The folder holding this file's child modules.
    const own = ['mod', 'lib', 'main'].includes(stem) ? fromDir : join(fromDir, stem);
    if (spec.startsWith('mod:')) return this.rustModule(own, [spec.slice(4)]);
    const [head, ...rest] = spec.split('::');
    let dir: string | undefined;
    if (head === 'crate') dir = this.crateSrc(from);
    else if (head === 'self') dir = own;
    else if (head === 'super') dir = fromDir === own ? posix.dirname(fromDir) : fromDir;
    else {
      const crate = this.manifests.crates.find((c) => c.name === head);
      if (crate) dir = join(crate.dir, 'src');
    }
    if (dir === undefined) return [];
    if (rest.length === 0) return this.first([join(dir, 'lib.rs'), join(dir, 'mod.rs')]);
    return this.rustModule(dir, rest);
  }

  /** The src folder of the crate a file belongs to: the nearest ancestor named src. */
  private crateSrc(from: string): string | undefined {
    const parts = from.split('/');
    const i = parts.lastIndexOf('src');
    return i < 0 ? undefined : parts.slice(0, i + 1).join('/');
  }

  /** Paths that end with `/suffix` (or are it). */
  private bySuffix(suffix: string): string[] {
    const name = suffix.slice(suffix.lastIndexOf('/') + 1);
    return (this.byName.get(name) ?? []).filter((p) => p === suffix || p.endsWith(`/${suffix}`));
  }

  private java(spec: string): string[] {
    if (spec.endsWith('.*')) {
      const dir = spec.slice(0, -2).replace(/\./g, '/');
      for (const [d, files] of this.byDir) if (d === dir || d.endsWith(`/${dir}`)) return files.filter((p) => p.endsWith('.java'));
      return [];
    }
    return this.bySuffix(`${spec.replace(/\./g, '/')}.java`).slice(0, 1);
  }

  private cpp(spec: string, from: string): string[] {
    if (spec.startsWith('<')) return this.bySuffix(spec.slice(1)).slice(0, 1);
    const local = join(posix.dirname(from) === '.' ? '' : posix.dirname(from), spec);
    return this.files.has(local) ? [local] : this.bySuffix(posix.normalize(spec)).slice(0, 1);
  }

  /** The workspace files one import of `from` names (none, one, or a Go package's files). */
  resolve(spec: ImportSpec, from: string): string[] {
    const language = languageOf(from);
    for (const alternative of spec) {
      let hit: string[] = [];
      switch (language) {
        case 'typescript':
        case 'tsx':
        case 'javascript':
          hit = this.js(alternative, from);
          break;
        case 'python':
          hit = this.python(alternative, from);
          break;
        case 'go':
          hit = this.go(alternative);
          break;
        case 'rust':
          hit = this.rust(alternative, from);
          break;
        case 'java':
          hit = this.java(alternative);
          break;
        case 'cpp':
          hit = this.cpp(alternative, from);
          break;
      }
      const others = hit.filter((p) => p !== from);
      if (others.length > 0) return others;
    }
    return [];
  }
}
