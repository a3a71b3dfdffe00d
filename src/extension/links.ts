// Turns a path that came out of the webview (model output, so untrusted) into a file inside the workspace, or nothing.
import * as path from 'node:path';
import { realpath, stat } from 'node:fs/promises';
import { isInside } from '../core/paths.ts';

/**
 * Resolves `candidate` (relative to a root, or absolute) to a real regular file that lies inside one of `roots`,
 * following symlinks before the containment check so a link cannot lead out of the workspace.
 */
export async function resolveWorkspaceFile(roots: readonly string[], candidate: string): Promise<string | undefined> {
  const cleaned = candidate.trim().replace(/^\.\//, '');
  if (cleaned === '' || cleaned.includes('\0') || /^[a-z][a-z0-9+.-]*:/i.test(cleaned)) return undefined;
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => undefined);
    if (!realRoot) continue;
    const target = path.isAbsolute(cleaned) ? cleaned : path.join(root, cleaned);
    const real = await realpath(target).catch(() => undefined);
    if (!real) continue;
    if (real === realRoot || !isInside(realRoot, real)) continue;
    const info = await stat(real).catch(() => undefined);
    if (info?.isFile()) return real;
  }
  return undefined;
}
