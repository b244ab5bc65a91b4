// Path rules of the config: ~ expansion, the default state dir, folder layout, a private state dir.
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { ConfigIssue } from './errors.js';

/** Expands a leading "~" to the home directory (HOME from `env`, else the OS's). */
export function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  if (p !== '~' && !p.startsWith('~/')) return p;
  const home = env.HOME && env.HOME !== '' ? env.HOME : homedir();
  return path.join(home, p.slice(1));
}

/** Makes a path absolute: "~" expanded, relative paths resolved against `baseDir`. */
export function resolveAgainst(p: string, baseDir: string, env: NodeJS.ProcessEnv): string {
  return path.resolve(baseDir, expandHome(p, env));
}

/**
 * Where an old version kept state when the config named no stateDir (from the environment:
 * $STATE_DIRECTORY, else $XDG_STATE_HOME/files-sync, else ~/.local/state/files-sync). Only used
 * to find state left there, so that moving the default never silently starts a second state dir.
 */
export function legacyStateDir(env: NodeJS.ProcessEnv): string {
  const systemd = env.STATE_DIRECTORY?.split(':')[0];
  if (systemd) return path.resolve(systemd);
  if (env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME))
    return path.join(env.XDG_STATE_HOME, 'files-sync');
  return path.join(expandHome('~', env), '.local', 'state', 'files-sync');
}

/**
 * The state directory of a config file that names none, from the file's location alone, so that
 * every process reading the same file (the service, an admin's shell, cron) agrees:
 * - /etc/files-sync/config.json -> /var/lib/files-sync; /etc/files-sync/NAME.json ->
 *   /var/lib/files-sync/NAME (what the units' StateDirectory= creates);
 * - HOME/.config/files-sync/config.json -> HOME/.local/state/files-sync, NAME.json -> .../NAME;
 * - anywhere else DIR/NAME.json -> DIR/.files-sync/NAME (beside the file; a state dir inside a
 *   synced folder is never synced).
 */
export function derivedStateDir(configPath: string): string {
  const abs = path.resolve(configPath);
  const dir = path.dirname(abs);
  const stem = path.basename(abs).replace(/\.json$/i, '');
  const sub = stem === 'config' ? [] : [stem];
  if (dir === '/etc/files-sync') return path.join('/var/lib/files-sync', ...sub);
  if (path.basename(dir) === 'files-sync' && path.basename(path.dirname(dir)) === '.config')
    return path.join(path.dirname(path.dirname(dir)), '.local', 'state', 'files-sync', ...sub);
  return path.join(dir, '.files-sync', stem);
}

/** True when `inner` is `outer` or lies below it (both absolute, normalised). */
export function isSameOrInside(outer: string, inner: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Finds folders that share a path or sit inside another configured folder (pure; paths absolute). */
export function checkFolderLayout(folders: readonly { name: string; path: string }[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  folders.forEach((folder, i) => {
    for (let j = 0; j < i; j++) {
      const other = folders[j];
      if (!other) continue;
      if (folder.path === other.path) {
        issues.push({
          path: `folders[${i}].path`,
          message: `same folder as folders[${j}] ("${other.name}"): ${folder.path}`,
          fix: 'list each folder once (use include/exclude to pick files)',
        });
      } else if (isSameOrInside(other.path, folder.path) || isSameOrInside(folder.path, other.path)) {
        const [outer, inner] = isSameOrInside(other.path, folder.path) ? [other, folder] : [folder, other];
        issues.push({
          path: `folders[${i}].path`,
          message: `folder "${inner.name}" (${inner.path}) is inside folder "${outer.name}" (${outer.path}); a file would be synced twice`,
          fix: `remove one of them (use include/exclude in "${outer.name}" to pick files), or use folders that do not contain each other`,
        });
      }
    }
  });
  return issues;
}

/**
 * An existing state dir that another user can write to is refused: whoever can create files
 * there can plant a lock, a manifest mapping paths to someone else's file IDs, or symlinks.
 * A missing dir is fine (it is created 0700). Windows has no such mode bits, so it is not checked.
 */
export async function checkStateDirPrivate(stateDir: string, where: string): Promise<ConfigIssue | null> {
  if (process.platform === 'win32') return null;
  let mode: number;
  try {
    mode = (await stat(stateDir)).mode;
  } catch {
    return null; // missing (created 0700 later) or unreadable (reported by the writability check)
  }
  if ((mode & 0o022) === 0) return null;
  const who = (mode & 0o002) !== 0 ? 'other users' : 'its group';
  return {
    path: where,
    message: `state directory ${stateDir} is writable by ${who} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')}); refusing to use it`,
    fix: `chmod 700 ${stateDir}`,
  };
}
