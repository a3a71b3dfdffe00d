// Fingerprint and refresh plan. The fingerprint is what the cache manifest stores: per file, its content
// hash and token range. Comparing it with a new build tells the engine the first token whose KV is stale;
// everything before it is reused as is, everything from it on is prefilled again.
import { FORMAT_VERSION } from './render.ts';
import type { BuiltContext, ContextFile, Fingerprint } from './types.ts';

export function fingerprintOf(files: readonly ContextFile[], totalTokens: number, tokenizerId?: string): Fingerprint {
  const fp: Fingerprint = {
    version: FORMAT_VERSION,
    totalTokens,
    files: files.map(({ path, hash, tokenStart, tokenEnd, outline, signatures }) => ({
      path,
      hash,
      tokenStart,
      tokenEnd,
      ...(outline ? { outline } : {}),
      ...(signatures ? { signatures } : {}),
    })),
  };
  if (tokenizerId !== undefined) fp.tokenizerId = tokenizerId;
  return fp;
}

export interface RefreshPlan {
  /** Nothing changed: the cache is current. */
  upToDate: boolean;
  /** First token position whose KV must be recomputed; tokens [0, firstToken) are reused. */
  firstToken: number;
  /** Index (in the new order) of the first file to prefill again; files.length when only removals at the end. */
  firstFile: number;
  /** Tokens to prefill: new total minus the reused prefix. */
  prefillTokens: number;
  changed: string[];
  added: string[];
  removed: string[];
  /** Files whose content did not change but that are prefilled again because they follow a change. */
  shifted: string[];
  /** Set when nothing can be reused, and why. */
  fullRebuild?: string;
}

export function planRefresh(old: Fingerprint, next: Fingerprint | BuiltContext): RefreshPlan {
  const now = 'fingerprint' in next ? next.fingerprint : next;
  const before = new Map(old.files.map((f) => [f.path, f.hash]));
  // A file that switches between whole, outline and signatures renders differently with the same bytes.
  const form = (f: { outline?: true; signatures?: true }) => (f.signatures ? 'signatures' : f.outline ? 'outline' : 'whole');
  const outlined = new Map(old.files.map((f) => [f.path, form(f)]));
  const after = new Set(now.files.map((f) => f.path));
  const changed: string[] = [];
  const added: string[] = [];
  for (const f of now.files) {
    const h = before.get(f.path);
    if (h === undefined) added.push(f.path);
    else if (h !== f.hash || outlined.get(f.path) !== form(f)) changed.push(f.path);
  }
  const removed = old.files.filter((f) => !after.has(f.path)).map((f) => f.path);

  let fullRebuild: string | undefined;
  if (old.version !== now.version) fullRebuild = `render format changed (${old.version} -> ${now.version})`;
  else if (old.tokenizerId !== now.tokenizerId) fullRebuild = 'tokenizer changed';

  // Longest common prefix of (path, hash, token length): identical segments give identical ids, so the KV
  // up to there is exactly what a fresh build would compute.
  let i = 0;
  if (!fullRebuild) {
    const n = Math.min(old.files.length, now.files.length);
    while (i < n) {
      const a = old.files[i]!;
      const b = now.files[i]!;
      if (a.path !== b.path || a.hash !== b.hash || form(a) !== form(b) || a.tokenEnd - a.tokenStart !== b.tokenEnd - b.tokenStart) break;
      i++;
    }
  }
  const firstToken = i < now.files.length ? now.files[i]!.tokenStart : i === 0 ? 0 : now.files[i - 1]!.tokenEnd;
  const upToDate = !fullRebuild && i === old.files.length && i === now.files.length;
  const fresh = new Set([...changed, ...added]);
  const shifted = now.files
    .slice(i)
    .filter((f) => !fresh.has(f.path))
    .map((f) => f.path);
  const plan: RefreshPlan = {
    upToDate,
    firstToken,
    firstFile: i,
    prefillTokens: now.totalTokens - firstToken,
    changed,
    added,
    removed,
    shifted,
  };
  if (fullRebuild) plan.fullRebuild = fullRebuild;
  return plan;
}
