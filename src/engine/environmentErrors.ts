// Errors of the machine rather than of our code (a full disk, a path under a file, no permission): each becomes a
// message that names the path and says what to do, instead of "Internal error" and a stack.
import { UserError } from '../core/errors.ts';

const WHERE = 'the cache folder (--cache-dir, or the KVZIP_CACHE_DIR environment variable)';

/** The message for a system error, or undefined when `e` is not one. `cacheDir` decides whether moving it helps. */
export function environmentError(e: unknown, cacheDir?: string): UserError | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string') return undefined;
  const path = err.path ? ` ${err.path}` : '';
  const orMove = cacheDir && err.path?.startsWith(cacheDir) ? `, or move ${WHERE}` : '';
  switch (err.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new UserError(`The disk is full (writing${path}). Free some space, or move ${WHERE} to a disk with room.`, 'disk-full');
    case 'ENOTDIR':
      return new UserError(`A part of the path${path} is a file, not a folder. Remove or rename that file${orMove}.`, 'not-a-folder');
    case 'EACCES':
    case 'EPERM':
      return new UserError(`Permission denied on${path}. Fix its permissions${orMove}.`, 'permission');
    case 'EROFS':
      return new UserError(`The file system is read-only (writing${path}). Move ${WHERE} to a writable disk.`, 'read-only');
    case 'EMFILE':
    case 'ENFILE':
      return new UserError('Too many open files on this machine. Close some programs, or raise the limit (ulimit -n).', 'too-many-files');
    default:
      return undefined;
  }
}
