// Turns a path that came out of the webview (model output, so untrusted) into a file inside the workspace, or nothing;
// and says which paths an answer names are such files.
import * as path from 'node:path';
import { realpath, stat } from 'node:fs/promises';
import { isInside } from '../core/paths.ts';
import { findPaths } from '../webview/paths.ts';

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

/**
 * A path as the context and the answers write it: relative to the workspace folder, or, with several folders open,
 * with the folder's name in front (extension/settings.ts names them).
 */
export async function resolveContextPath(
  folders: readonly { name: string; path: string }[],
  candidate: string,
): Promise<string | undefined> {
  const direct = await resolveWorkspaceFile(
    folders.map((f) => f.path),
    candidate,
  );
  if (direct || folders.length < 2) return direct;
  const [first, ...rest] = candidate.trim().replace(/^\.\//, '').split('/');
  const folder = folders.find((f) => f.name === first);
  return folder && rest.length ? resolveWorkspaceFile([folder.path], rest.join('/')) : undefined;
}

/** The file references of an answer that are files of the workspace: the only ones the sidebar draws as links. */
export async function workspaceLinks(text: string, folders: readonly { name: string; path: string }[]): Promise<string[]> {
  const paths = [...new Set(findPaths(text).map((r) => r.path))];
  const found = await Promise.all(paths.map((p) => resolveContextPath(folders, p)));
  return paths.filter((_, i) => found[i] !== undefined);
}
