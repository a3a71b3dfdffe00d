// Refuses a cache folder that cannot work, before anything is written there: under a file, on a kernel's virtual
// file system (Node's recursive mkdir never returns under /proc), or where this user may not write.
import { accessSync, constants, statSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../core/errors.ts';

/** statfs magic numbers of Linux's virtual file systems (linux/magic.h). */
const VIRTUAL_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x73636673: 'securityfs',
  0x1cd1: 'devpts',
  0xcafe4a11: 'bpf',
  0x74726163: 'tracefs',
};

const FIX = 'Choose another cache folder (--cache-dir, or the KVZIP_CACHE_DIR environment variable)';

export function checkCacheDir(dir: string): void {
  const target = resolve(dir);
  // The nearest part of the path that exists decides: it must be a writable folder on a real file system.
  let at = target;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a part above is a file; walking up finds and names it.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(at) !== at) {
        at = dirname(at);
        continue;
      }
      throw new UserError(`The cache folder ${target} cannot be used (${code ?? (e as Error).message}). ${FIX}`, 'cache-dir');
    }
    if (!isDir) {
      const where = at === target ? `The cache folder ${target} is a file` : `The cache folder ${target} is under ${at}, which is a file`;
      throw new UserError(`${where}, not a folder. ${FIX}`, 'cache-dir');
    }
    break;
  }
  const fs = process.platform === 'linux' ? VIRTUAL_FS[Number(statfsSync(at).type)] : undefined;
  if (fs)
    throw new UserError(`The cache folder ${target} is on the kernel's ${fs} file system, which cannot hold files. ${FIX}`, 'cache-dir');
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
  } catch {
    throw new UserError(`The cache folder ${target} cannot be written: ${at} is not writable by this user. ${FIX}`, 'cache-dir');
  }
}
