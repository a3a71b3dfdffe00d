// Path-only decisions (no I/O): user include/exclude globs, default folders and files, secret names.
// Folder verdicts are cached, so 100k paths cost one lookup per folder, not per ancestor per file.
import picomatch from 'picomatch';
import { defaultDirVerdict, defaultFileVerdict, type Verdict } from './defaults.ts';
import { secretNameVerdict } from './secrets.ts';

export interface RuleOptions {
  defaultExcludes: boolean;
  includeSecrets: boolean;
  include?: string[];
  exclude?: string[];
}

/** The path rules a context is built with; staleness checks use the same ones so the two never disagree. */
export function contextRules(o: {
  defaultExcludes?: boolean;
  includeSecrets?: boolean;
  include?: string[];
  exclude?: string[];
}): PathRules {
  return new PathRules({
    defaultExcludes: o.defaultExcludes ?? true,
    includeSecrets: o.includeSecrets ?? false,
    include: o.include,
    exclude: o.exclude,
  });
}

export class PathRules {
  private readonly isExcluded?: (p: string) => boolean;
  private readonly isIncluded?: (p: string) => boolean;
  private readonly dirCache = new Map<string, { dir: string; verdict: Verdict } | null>();

  constructor(private readonly opts: RuleOptions) {
    // dot: VS Code globs match dotfiles too (`**/.git`).
    if (opts.exclude?.length) this.isExcluded = picomatch(opts.exclude, { dot: true });
    if (opts.include?.length) this.isIncluded = picomatch(opts.include, { dot: true });
  }

  /** Verdict for a folder itself (relative, no trailing slash), ignoring its ancestors. */
  dir(rel: string): Verdict | undefined {
    if (this.isExcluded?.(rel)) return { reason: 'excluded', detail: 'matches an exclude glob' };
    if (!this.opts.defaultExcludes) return undefined;
    return defaultDirVerdict(rel.slice(rel.lastIndexOf('/') + 1));
  }

  /** The outermost ancestor folder of a file that is left out, with its verdict. */
  ancestor(rel: string): { dir: string; verdict: Verdict } | undefined {
    const slash = rel.lastIndexOf('/');
    if (slash < 0) return undefined;
    return this.cachedDir(rel.slice(0, slash)) ?? undefined;
  }

  private cachedDir(dir: string): { dir: string; verdict: Verdict } | null {
    let hit = this.dirCache.get(dir);
    if (hit !== undefined) return hit;
    const slash = dir.lastIndexOf('/');
    hit = (slash >= 0 ? this.cachedDir(dir.slice(0, slash)) : null) ?? null;
    if (!hit) {
      const verdict = this.dir(dir);
      hit = verdict ? { dir, verdict } : null;
    }
    this.dirCache.set(dir, hit);
    return hit;
  }

  /** Whether a file's path lets it into the context: no left-out ancestor folder and no verdict on the file. */
  admits(rel: string): boolean {
    return !this.ancestor(rel) && !this.file(rel);
  }

  /** Verdict for a file by its path alone. */
  file(rel: string): Verdict | undefined {
    if (this.isExcluded?.(rel)) return { reason: 'excluded', detail: 'matches an exclude glob' };
    if (this.isIncluded && !this.isIncluded(rel)) return { reason: 'not-included', detail: 'matches no include glob' };
    if (!this.opts.includeSecrets) {
      const secret = secretNameVerdict(rel);
      if (secret) return secret;
    }
    return this.opts.defaultExcludes ? defaultFileVerdict(rel.slice(rel.lastIndexOf('/') + 1)) : undefined;
  }
}
