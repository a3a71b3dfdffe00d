// Which changed files make the cache stale: those the context builder admits by path under the same settings
// (its own rules: include/exclude globs, default folders and files, secret names). Files left out of the
// context for what they hold (binary, generated, too large) still count, so a change is never missed.
import { contextRules, type PathRules } from '../context/index.ts';

export interface StalenessSettings {
  include: string[];
  exclude: string[];
  includeSecrets: boolean;
}

export class Staleness {
  private cached?: { key: string; rules: PathRules };

  /** True when a change to `rel` (workspace-relative, `/`-separated) may change the cached context. */
  touchesContext(rel: string, s: StalenessSettings): boolean {
    const key = JSON.stringify([s.include, s.exclude, s.includeSecrets]);
    if (this.cached?.key !== key) this.cached = { key, rules: contextRules(s) };
    // The watcher also reports folders: creating node_modules/ itself is no change to the context (a file that
    // happens to carry such a folder's name is the price).
    return this.cached.rules.admits(rel) && !this.cached.rules.dir(rel);
  }
}

/** What a turn answered from a stale cache says: which changes the cache predates, a few by name. */
export function staleNote(changed: readonly string[] | undefined): string {
  if (!changed?.length) return 'Answered from the cache built before the workspace changed.';
  const named = changed.slice(0, 3);
  const more = changed.length - named.length;
  const list =
    more > 0
      ? `${named.join(', ')} and ${more} more`
      : named.length > 1
        ? `${named.slice(0, -1).join(', ')} and ${named.at(-1)}`
        : named[0];
  return `Answered from the cache built before ${list} changed.`;
}
