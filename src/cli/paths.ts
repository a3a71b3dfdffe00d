// The default cache folder: a per-user data folder (the extension passes its global storage instead).
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultCacheDir(env = process.env, platform = process.platform): string {
  if (env.KVZIP_CACHE_DIR) return env.KVZIP_CACHE_DIR;
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'kvzip-code');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'kvzip-code');
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'kvzip-code');
}
