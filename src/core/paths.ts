// Containment by path, the one way: `..foo` is a name inside, only `..` and `../…` lead out.
import { isAbsolute, relative, sep } from 'node:path';

/** True when `p` is `root` itself or lies under it (both absolute, already resolved as the caller needs). */
export function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}
