/** Loads the config: file, then environment, then flags; resolves paths and the state dir; checks it all. */
import { access, readFile, realpath, stat } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { scrub } from '../log.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { describeIssues, type ValueSource } from './issues.js';
import { findJsonSyntaxError } from './json-syntax.js';
import { checkFolderLayout, checkStateDirPrivate, resolveAgainst } from './paths.js';
import { resolveConfigPath } from './config-path.js';
import { checkStateSettings } from './database.js';
import { resolveStateLocation } from './state-location.js';
import { configFileSchema, type Config, type FolderConfig } from './schema.js';
import { isPlainObject } from '../util/plain-object.js';

// Still importable from here: callers and tests know them as part of loading the config.
export { resolveConfigPath, SYSTEM_CONFIG_PATH } from './config-path.js';

/** Values given on the command line; they win over env and file. */
export interface ConfigOverrides {
  stateDir?: string | undefined;
  logLevel?: string | undefined;
  baseUrl?: string | undefined;
  concurrency?: number | undefined;
  /** Names of the folders to keep (--folder); the others are dropped. */
  folders?: string[] | undefined;
}

export interface LoadOptions {
  /** -c: the config file; searched for (see resolveConfigPath) when omitted. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  overrides?: ConfigOverrides | undefined;
  /** Check that folders exist and are directories and that stateDir is writable (default true). */
  checkPaths?: boolean | undefined;
  /** Base of relative paths given on the command line or in env (default process.cwd()). */
  cwd?: string | undefined;
}

export interface LoadedConfig {
  config: Config;
  configPath: string;
  source: 'file';
}

/**
 * Env variables that override a config field, in the order they are applied. Not the state dir:
 * env vars naming it must agree with the file (state-location.ts).
 */
const ENV_OVERRIDES: readonly { name: string; field: readonly string[]; numeric?: true }[] = [
  { name: 'FILES_SYNC_LOG_LEVEL', field: ['log', 'level'] },
  { name: 'ANTHROPIC_BASE_URL', field: ['api', 'baseUrl'] },
  { name: 'FILES_SYNC_CONCURRENCY', field: ['api', 'concurrency'], numeric: true },
];

// Key-like fields users paste into config files; the key belongs in the environment only.
const KEY_LIKE_TOP = /^(api[_-]?key|anthropic[_-]?api[_-]?key|x-api-key)$/i;
const KEY_LIKE_API = /^(key|api[_-]?key|x-api-key|secret|token)$/i;

/** Reads, validates and resolves the configuration: defaults < file < env < CLI overrides. */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const configPath = resolveConfigPath(options.configPath, env, cwd);
  const secrets = [env.ANTHROPIC_API_KEY ?? ''].filter((s) => s.length >= 8);
  try {
    return await loadFrom(configPath, env, cwd, options);
  } catch (err) {
    if (err instanceof ConfigError && secrets.length > 0) {
      // Last line of defence: no message may carry the key, whatever a user typed where.
      const issues = err.issues.map((i) => ({
        path: scrub(i.path, secrets),
        message: scrub(i.message, secrets),
        fix: scrub(i.fix, secrets),
      }));
      throw new ConfigError(issues, { configPath });
    }
    throw err;
  }
}

async function loadFrom(
  configPath: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  options: LoadOptions,
): Promise<LoadedConfig> {
  const configDir = path.dirname(configPath);
  const raw = parseConfigText(await readConfigText(configPath), configPath);

  const issues: ConfigIssue[] = [];
  const input = removeKeyLikeFields(raw, issues);
  const sources = new Map<string, ValueSource>();
  applyOverrides(input, env, options.overrides ?? {}, sources);

  const parsed = configFileSchema.safeParse(input);
  if (!parsed.success) issues.push(...describeIssues(parsed.error.issues, configFileSchema, input, sources));
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues, { configPath });

  const { $schema: _ignored, stateDir: fileStateDir, ...rest } = parsed.data;
  const stateSource = sources.get('stateDir');
  const resolvedState =
    fileStateDir === undefined ? undefined : resolveAgainst(fileStateDir, stateSource ? cwd : configDir, env);
  const location = resolveStateLocation({
    configPath,
    fromFile: stateSource ? undefined : resolvedState,
    fromFlag: stateSource ? resolvedState : undefined,
    folderNames: rest.folders.map((f) => f.name),
    env,
    cwd,
  });
  issues.push(...location.issues);
  const stateDir = location.stateDir;
  const folders: FolderConfig[] = rest.folders.map((f) => ({
    ...f,
    path: resolveAgainst(f.path, configDir, env),
  }));
  const api = { ...rest.api, baseUrl: rest.api.baseUrl.replace(/\/+$/, '') };
  if (api.keyFile !== undefined) api.keyFile = resolveAgainst(api.keyFile, configDir, env);
  const http = { ...rest.http };
  if (http.tokenFile !== null) http.tokenFile = resolveAgainst(http.tokenFile, configDir, env);
  const checkedState = await checkStateSettings(rest.state, env, configDir);
  issues.push(...checkedState.issues);
  const config: Config = { ...rest, api, http, state: checkedState.state, stateDir, folders };

  const checkPaths = options.checkPaths ?? true;
  issues.push(...checkFolderLayout(checkPaths ? await withRealPaths(folders) : folders));
  const kept = selectFolders(config, options.overrides?.folders, issues);
  if (checkPaths) {
    for (const [index, folder] of config.folders.entries()) {
      if (kept.includes(folder)) {
        const problem = await checkFolderDir(folder.path, index);
        if (problem) issues.push(problem);
      }
    }
    const problem = await checkStateDirWritable(stateDir, stateSource?.label ?? 'stateDir');
    if (problem) issues.push(problem);
  }
  const unsafe = await checkStateDirPrivate(stateDir, stateSource?.label ?? 'stateDir');
  if (unsafe) issues.push(unsafe);
  if (issues.length > 0) throw new ConfigError(issues, { configPath });
  return { config: { ...config, folders: kept }, configPath, source: 'file' };
}

async function readConfigText(configPath: string): Promise<string> {
  try {
    return await readFile(configPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const issue: ConfigIssue =
      code === 'ENOENT'
        ? {
            path: configPath,
            message: 'config file not found',
            fix: `run \`files-sync init -c ${configPath}\` to write one`,
          }
        : code === 'EISDIR'
          ? {
              path: configPath,
              message: 'is a directory, not a config file',
              fix: `pass the file inside it, e.g. -c ${path.join(configPath, 'config.json')}`,
            }
          : {
              path: configPath,
              message: `config file cannot be read (${code ?? 'error'})`,
              fix: 'check that the file is readable by this user',
            };
    throw new ConfigError([issue], { configPath }, { cause: err });
  }
}

/** Parses config text; a syntax error names line:column and never quotes the text around it. */
export function parseConfigText(text: string, configPath: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch {
    const problem = findJsonSyntaxError(body);
    const where = problem ? `${configPath}:${problem.line}:${problem.column}` : configPath;
    throw new ConfigError(
      [
        {
          path: where,
          message: `invalid JSON: ${problem?.message ?? 'syntax error'}`,
          fix: problem?.fix ?? 'check the JSON syntax',
        },
      ],
      { configPath },
    );
  }
}

/** Reports and drops fields that look like an API key; returns a copy safe to hand to zod. */
function removeKeyLikeFields(raw: unknown, issues: ConfigIssue[]): unknown {
  if (!isPlainObject(raw)) return raw;
  const keyIssue = (where: string): ConfigIssue => ({
    path: where,
    message: 'an API key does not belong in the config file (value not shown)',
    fix: 'remove it and put the key in ANTHROPIC_API_KEY (or in a file named by api.keyFile)',
  });
  const top: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (KEY_LIKE_TOP.test(key)) issues.push(keyIssue(key));
    else top[key] = value;
  }
  if (isPlainObject(top.api)) {
    const api: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(top.api)) {
      if (KEY_LIKE_API.test(key)) issues.push(keyIssue(`api.${key}`));
      else api[key] = value;
    }
    top.api = api;
  }
  return top;
}

function setField(target: unknown, field: readonly string[], value: unknown): boolean {
  if (!isPlainObject(target)) return false;
  const [head, ...rest] = field;
  if (head === undefined) return false;
  if (rest.length === 0) {
    target[head] = value;
    return true;
  }
  if (target[head] === undefined) target[head] = {};
  // A non-object here is already a type error the schema reports; do not paper over it.
  return isPlainObject(target[head]) && setField(target[head], rest, value);
}

function numericOrRaw(raw: string): number | string {
  return /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw;
}

/** Writes env and CLI values over the file's (CLI last), remembering where each came from. */
function applyOverrides(
  input: unknown,
  env: NodeJS.ProcessEnv,
  overrides: ConfigOverrides,
  sources: Map<string, ValueSource>,
): void {
  const put = (field: readonly string[], label: string, value: unknown, raw: string) => {
    if (setField(input, field, value)) sources.set(field.join('.'), { label, raw });
  };
  for (const { name, field, numeric } of ENV_OVERRIDES) {
    const raw = env[name];
    // Empty means unset: systemd EnvironmentFile lines like `FILES_SYNC_LOG_LEVEL=` are common.
    if (raw === undefined || raw.trim() === '') continue;
    put(field, name, numeric ? numericOrRaw(raw) : raw, raw);
  }
  if (overrides.stateDir !== undefined)
    put(['stateDir'], '--state-dir', overrides.stateDir, overrides.stateDir);
  if (overrides.logLevel !== undefined)
    put(['log', 'level'], '--log-level', overrides.logLevel, overrides.logLevel);
  if (overrides.baseUrl !== undefined)
    put(['api', 'baseUrl'], '--base-url', overrides.baseUrl, overrides.baseUrl);
  if (overrides.concurrency !== undefined) {
    put(['api', 'concurrency'], '--concurrency', overrides.concurrency, String(overrides.concurrency));
  }
}

/** Keeps the folders named by --folder (all when none); unknown names become issues. */
function selectFolders(
  config: Config,
  names: readonly string[] | undefined,
  issues: ConfigIssue[],
): FolderConfig[] {
  if (!names || names.length === 0) return config.folders;
  const known = config.folders.map((f) => f.name);
  for (const name of names) {
    if (!known.includes(name)) {
      issues.push({
        path: '--folder',
        message: `unknown folder ${JSON.stringify(name)}`,
        fix: `use one of the configured folders: ${known.join(', ')}`,
      });
    }
  }
  return config.folders.filter((f) => names.includes(f.name));
}

// Two spellings of one directory (a symlink, "a/../a") must still count as the same folder.
async function withRealPaths(folders: readonly FolderConfig[]): Promise<FolderConfig[]> {
  return Promise.all(folders.map(async (f) => ({ ...f, path: await realpath(f.path).catch(() => f.path) })));
}

async function checkFolderDir(folderPath: string, index: number): Promise<ConfigIssue | null> {
  const where = `folders[${index}].path`;
  try {
    const st = await stat(folderPath);
    if (!st.isDirectory()) {
      return {
        path: where,
        message: `is not a directory: ${folderPath}`,
        fix: `point ${where} at a directory instead of ${folderPath}`,
      };
    }
    await access(folderPath, fsConstants.R_OK | fsConstants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return {
        path: where,
        message: `folder does not exist: ${folderPath}`,
        fix: `create it (mkdir -p ${folderPath}) or correct ${where}`,
      };
    }
    return {
      path: where,
      message: `folder cannot be read (${code ?? 'error'}): ${folderPath}`,
      fix: `give this user read access to ${folderPath}`,
    };
  }
}

/** The state dir need not exist yet, but it must be creatable: walk up to the first existing ancestor. */
async function checkStateDirWritable(stateDir: string, where: string): Promise<ConfigIssue | null> {
  const fix = `use a writable directory (mkdir -p ${stateDir} and give this user write access), or set stateDir in the config file`;
  let probe = stateDir;
  for (;;) {
    try {
      const st = await stat(probe);
      if (!st.isDirectory()) {
        return { path: where, message: `state directory is not writable: ${probe} is not a directory`, fix };
      }
      await access(probe, fsConstants.W_OK | fsConstants.X_OK);
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const parent = path.dirname(probe);
      if (code === 'ENOENT' && parent !== probe) {
        probe = parent;
        continue;
      }
      return { path: where, message: `state directory is not writable (${code ?? 'error'}): ${probe}`, fix };
    }
  }
}
