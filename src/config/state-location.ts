/** Which state directory a config file means, the same in every environment (N1: one folder, one state dir). */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from './errors.js';
import { manifestPath } from '../state/state-dir.js';
import { derivedStateDir, legacyStateDir } from './paths.js';

/**
 * Environment variables that name a state directory. They do not choose it (an admin's shell
 * lacks them, and a second state dir for one folder means a second process syncing it without
 * the lock): they must agree with the config, or the command stops.
 */
export const STATE_DIR_ENV = ['STATE_DIRECTORY', 'FILES_SYNC_STATE_DIR'] as const;

export interface StateLocation {
  stateDir: string;
  issues: ConfigIssue[];
}

/**
 * Resolves the state dir: the --state-dir flag (explicit, for this command only), else the
 * file's stateDir, else derived from the config file's location (derivedStateDir). An env var
 * naming another directory is an issue; so is state left in the old env-based default.
 */
export function resolveStateLocation(input: {
  configPath: string;
  /** stateDir resolved from the file (absolute), if the file names one. */
  fromFile?: string | undefined;
  /** --state-dir resolved against the cwd, if given. */
  fromFlag?: string | undefined;
  folderNames: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}): StateLocation {
  if (input.fromFlag !== undefined) return { stateDir: input.fromFlag, issues: [] };
  const stateDir = input.fromFile ?? derivedStateDir(input.configPath);
  const issues: ConfigIssue[] = [];
  for (const name of STATE_DIR_ENV) {
    const raw = name === 'STATE_DIRECTORY' ? input.env[name]?.split(':')[0] : input.env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const named = path.resolve(input.cwd, raw);
    if (sameDir(named, stateDir)) continue;
    const origin =
      input.fromFile !== undefined
        ? `the config's stateDir is ${stateDir}`
        : `the config names no stateDir, so it is ${stateDir} (from the config file's location)`;
    issues.push({
      path: name,
      message: `names the state directory ${named}, but ${origin}; one folder with two state dirs would be synced by two processes`,
      fix: `set "stateDir": "${named}" in ${input.configPath} (every command then agrees), or unset ${name}${name === 'STATE_DIRECTORY' ? ' (StateDirectory= in the systemd unit)' : ''}`,
    });
  }
  if (input.fromFile === undefined && issues.length === 0) {
    const moved = stateLeftBehind(stateDir, legacyStateDir(input.env), input.folderNames);
    if (moved) issues.push(moved);
  }
  return { stateDir, issues };
}

function sameDir(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * Older versions put the state of a config without stateDir in an env-based default. Starting
 * afresh in the derived dir would upload every file again, so point at the old one instead.
 */
function stateLeftBehind(
  stateDir: string,
  legacy: string,
  folderNames: readonly string[],
): ConfigIssue | null {
  if (sameDir(stateDir, legacy)) return null;
  const manifest = (dir: string, name: string) => existsSync(manifestPath(dir, name));
  if (folderNames.some((n) => manifest(stateDir, n))) return null;
  const found = folderNames.find((n) => manifest(legacy, n));
  if (found === undefined) return null;
  return {
    path: 'stateDir',
    message: `the config names no stateDir, which now means ${stateDir} (from the config file's location), but folder "${found}" has its state in ${legacy}`,
    fix: `add "stateDir": "${legacy}" to the config file to keep using it`,
  };
}
