/**
 * Which config file a command reads. Apart from load.ts (and without its schema) so that the
 * fast path of `files-sync id` can find the daemon's address without loading zod.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { expandHome, resolveAgainst } from './paths.js';

/** Where the config is looked for when neither -c nor $FILES_SYNC_CONFIG names it (after ./ and XDG). */
export const SYSTEM_CONFIG_PATH = '/etc/files-sync/config.json';

/**
 * Picks the config file: explicit -c, else $FILES_SYNC_CONFIG (both taken as given, existing or
 * not), else the first existing of ./sync.config.json, $XDG_CONFIG_HOME/files-sync/config.json,
 * /etc/files-sync/config.json.
 */
export function resolveConfigPath(
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): string {
  if (explicit) return resolveAgainst(explicit, cwd, env);
  if (env.FILES_SYNC_CONFIG) return resolveAgainst(env.FILES_SYNC_CONFIG, cwd, env);
  const xdgConfig =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : expandHome('~/.config', env);
  const candidates = [
    path.join(cwd, 'sync.config.json'),
    path.join(xdgConfig, 'files-sync', 'config.json'),
    SYSTEM_CONFIG_PATH,
  ];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found) return found;
  throw new ConfigError([
    {
      path: 'config',
      message: `no config file found (looked for ${candidates.join(', ')})`,
      fix: 'run `files-sync init` to write one, or pass -c <file> or set FILES_SYNC_CONFIG',
    },
  ]);
}
