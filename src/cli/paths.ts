// The default cache folder: a per-user data folder (the extension passes its global storage instead).
import { homedir } from 'node:os';
import { join, posix, win32 } from 'node:path';

export function defaultCacheDir(env = process.env, platform = process.platform): string {
  if (env.KVZIP_CACHE_DIR) return env.KVZIP_CACHE_DIR;
  if (platform === 'win32') return join(absolute(env.LOCALAPPDATA, win32) ?? join(homedir(), 'AppData', 'Local'), 'kvzip-code');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'kvzip-code');
  return join(absolute(env.XDG_DATA_HOME, posix) ?? join(homedir(), '.local', 'share'), 'kvzip-code');
}

/**
 * A base folder named by the environment, only when it is an absolute path. The XDG spec says to ignore an empty
 * or relative one: taken as it is, it would put the cache under the current folder, often the repository.
 */
function absolute(value: string | undefined, path: typeof posix): string | undefined {
  return value && path.isAbsolute(value) ? value : undefined;
}
