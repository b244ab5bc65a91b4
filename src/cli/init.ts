/** `files-sync init`: writes a starter config (one folder, an explicit stateDir) where the loader finds it. */
import { stat, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { describeIssues, suggestFolderName } from '../config/issues.js';
import { derivedStateDir, expandHome, resolveAgainst } from '../config/paths.js';
import { resolveConfigPath, SYSTEM_CONFIG_PATH } from '../config/load.js';
import { checkListenAddress } from '../config/listen.js';
import { CliExit, EXIT, runCommand } from './common.js';
import {
  configFileSchema,
  renderConfigJsonSchema,
  FOLDER_NAME_PATTERN,
  type ConfigFileInput,
} from '../config/schema.js';

export interface InitOptions {
  /** Where to write the config (absolute). */
  configPath: string;
  /** The folder to mirror (absolute). */
  folderPath: string;
  /** Folder name; derived from the folder's basename when omitted. */
  name?: string | undefined;
  /** Replace an existing config file. */
  force?: boolean | undefined;
  /** http.listen: the loopback address of /healthz, /status and /metrics. */
  httpListen?: string | undefined;
}

export interface InitResult {
  configPath: string;
  schemaPath: string;
  folder: { name: string; path: string };
  /** False when the folder does not exist yet (the config is still written). */
  folderExists: boolean;
}

const SCHEMA_FILE = 'sync.config.schema.json';

/**
 * Where `init` writes without -c or $FILES_SYNC_CONFIG: a place the loader searches from any
 * directory (root: /etc/files-sync/config.json, which the system unit reads; others:
 * $XDG_CONFIG_HOME/files-sync/config.json, ~/.config by default).
 */
export function defaultInitConfigPath(env: NodeJS.ProcessEnv, uid: number | undefined): string {
  if (uid === 0) return SYSTEM_CONFIG_PATH;
  const xdg =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : expandHome('~/.config', env);
  return path.join(xdg, 'files-sync', 'config.json');
}

/**
 * The starter config: one folder, an explicit absolute stateDir (so that the service and every
 * shell agree on it), other defaults left implicit, the `$schema` link for editors.
 */
export function starterConfig(
  name: string,
  folderPathInConfig: string,
  stateDir: string,
  httpListen?: string,
): ConfigFileInput {
  return {
    $schema: `./${SCHEMA_FILE}`,
    stateDir,
    folders: [{ name, path: folderPathInConfig, include: [], exclude: ['**/.git', 'node_modules/**'] }],
    reconcile: { intervalMs: 900_000, onStart: true },
    log: { level: 'info' },
    ...(httpListen !== undefined ? { http: { listen: httpListen } } : {}),
  };
}

/** A folder path as written in the config: "./sub" when under the config's directory, else absolute. */
export function folderPathForConfig(configDir: string, folderPath: string): string {
  const rel = path.relative(configDir, folderPath);
  if (rel === '') return '.';
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return folderPath;
  return `./${rel.split(path.sep).join('/')}`;
}

/** Exit codes of `init` (sysexits.h): the config file cannot be created, or not by this user. */
export const INIT_EXIT = { cantCreate: 73, noPermission: 77 } as const;

/** Writes a starter config (and the JSON Schema next to it); refuses to replace a config without `force`. */
export async function writeStarterConfig(options: InitOptions): Promise<InitResult> {
  const name = options.name ?? suggestFolderName(path.basename(options.folderPath));
  if (!FOLDER_NAME_PATTERN.test(name)) {
    throw new CliExit(
      `files-sync: --name: invalid folder name ${JSON.stringify(name.slice(0, 64))}: use 1-64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit. Fix: use e.g. --name ${suggestFolderName(name)}`,
      EXIT.usage,
    );
  }
  const listenProblem = options.httpListen !== undefined ? checkListenAddress(options.httpListen) : null;
  if (listenProblem)
    throw new CliExit(`files-sync: --http: ${listenProblem.message}. Fix: ${listenProblem.fix}`, EXIT.usage);
  const configDir = path.dirname(options.configPath);
  const content = starterConfig(
    name,
    folderPathForConfig(configDir, options.folderPath),
    derivedStateDir(options.configPath),
    options.httpListen,
  );
  const parsed = configFileSchema.safeParse(content);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, configFileSchema, content));

  // Generated from the code, so replacing an older copy is always right.
  const schemaPath = path.join(configDir, SCHEMA_FILE);
  try {
    await mkdir(configDir, { recursive: true });
    await writeFile(options.configPath, `${JSON.stringify(content, null, 2)}\n`, {
      flag: options.force ? 'w' : 'wx',
    });
    await writeFile(schemaPath, renderConfigJsonSchema());
  } catch (err) {
    throw initWriteError(err as NodeJS.ErrnoException, options.configPath);
  }
  const folderExists = await stat(options.folderPath).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return {
    configPath: options.configPath,
    schemaPath,
    folder: { name, path: options.folderPath },
    folderExists,
  };
}

/** One line with the fix, and a sysexits code, for a config that cannot be written. */
function initWriteError(err: NodeJS.ErrnoException, configPath: string): CliExit {
  const elsewhere = '-c <file> to write elsewhere';
  if (err.code === 'EEXIST')
    return new CliExit(
      `files-sync: ${configPath} already exists; not overwritten. Fix: pass --force to replace it, or ${elsewhere}`,
      INIT_EXIT.cantCreate,
    );
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS')
    return new CliExit(
      `files-sync: cannot write ${err.path ?? configPath}: permission denied (${err.code}). Fix: run as a user who may write there (sudo for /etc/files-sync), or ${elsewhere}`,
      INIT_EXIT.noPermission,
    );
  return new CliExit(
    `files-sync: cannot write ${err.path ?? configPath} (${err.code ?? err.message}). Fix: check that its directory can be created and written, or ${elsewhere}`,
    INIT_EXIT.cantCreate,
  );
}

/** The text printed after a successful init. */
export function nextStepsText(result: InitResult, cwd: string, env: NodeJS.ProcessEnv): string {
  // -c is needed unless the loader's own search finds this file from here.
  let needsFlag = true;
  try {
    needsFlag = resolveConfigPath(undefined, env, cwd) !== result.configPath;
  } catch {
    // Not found by the search: keep -c.
  }
  const flag = needsFlag ? ` -c ${result.configPath}` : '';
  const lines = [
    `Wrote ${result.configPath} (folder "${result.folder.name}" -> ${result.folder.path})`,
    `  and ${result.schemaPath} (editor completion and validation).`,
  ];
  if (!result.folderExists)
    lines.push(`Note: ${result.folder.path} does not exist yet; create it before syncing.`);
  lines.push(
    '',
    'Next steps:',
    '  1. Review the config: add folders, include/exclude patterns (see sync.config.example.json).',
    '  2. Provide the API key in the environment, never in the file: export ANTHROPIC_API_KEY=...',
    `  3. Sync once:                 files-sync sync${flag}`,
    `  4. Keep the folders in sync:  files-sync run${flag}`,
    '',
  );
  return lines.join('\n');
}

/** Adds `files-sync init` to the program. */
export function registerInitCommand(program: Command): Command {
  return program
    .command('init')
    .description('write a starter config file with one folder')
    .option(
      '-c, --config <file>',
      'config file to write (default: $FILES_SYNC_CONFIG, else ~/.config/files-sync/config.json; as root /etc/files-sync/config.json)',
    )
    .option('--path <folder>', 'folder to mirror (default: the current directory)')
    .option('--name <name>', 'short name of the folder (default: derived from its directory name)')
    .option('--force', 'overwrite an existing config file', false)
    .option('--http <host:port>', 'serve /healthz, /status and /metrics there (http.listen; loopback only)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ files-sync init --path ~/Documents/contracts',
        '  $ files-sync init --path ./handbook --name handbook -c /etc/files-sync/config.json',
        '  $ sudo files-sync init --path /srv/docs --http 127.0.0.1:9464   # /etc/files-sync/config.json',
        '  $ files-sync init --force            # replace ~/.config/files-sync/config.json',
        '',
        'The config names its stateDir explicitly, so the service and every shell use the same one.',
        'The API key is never written to the config: set ANTHROPIC_API_KEY.',
        'Exit codes: 0 written, 64 bad --name, 73 the file exists (use --force) or cannot be created,',
        '77 permission denied.',
      ].join('\n'),
    )
    .action((_options: unknown, command: Command) =>
      runCommand(async () => {
        const opts = command.optsWithGlobals<{
          config?: string;
          path?: string;
          name?: string;
          force?: boolean;
          http?: string;
        }>();
        const cwd = process.cwd();
        const target =
          opts.config ??
          process.env.FILES_SYNC_CONFIG ??
          defaultInitConfigPath(process.env, process.getuid?.());
        const result = await writeStarterConfig({
          configPath: resolveAgainst(target, cwd, process.env),
          folderPath: resolveAgainst(opts.path ?? '.', cwd, process.env),
          name: opts.name,
          force: opts.force === true,
          httpListen: opts.http,
        });
        const write = command.configureOutput().writeOut ?? ((text: string) => process.stdout.write(text));
        write(nextStepsText(result, cwd, process.env));
        return EXIT.ok;
      }),
    );
}
