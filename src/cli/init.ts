import { stat, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { describeIssues, suggestFolderName } from '../config/issues.js';
import { resolveAgainst } from '../config/paths.js';
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
}

export interface InitResult {
  configPath: string;
  schemaPath: string;
  folder: { name: string; path: string };
  /** False when the folder does not exist yet (the config is still written). */
  folderExists: boolean;
}

const SCHEMA_FILE = 'sync.config.schema.json';

/** The starter config: one folder, defaults left implicit, the `$schema` link for editors. */
export function starterConfig(name: string, folderPathInConfig: string): ConfigFileInput {
  return {
    $schema: `./${SCHEMA_FILE}`,
    folders: [{ name, path: folderPathInConfig, include: [], exclude: ['**/.git', 'node_modules/**'] }],
    reconcile: { intervalMs: 900_000, onStart: true },
    log: { level: 'info' },
  };
}

/** A folder path as written in the config: "./sub" when under the config's directory, else absolute. */
export function folderPathForConfig(configDir: string, folderPath: string): string {
  const rel = path.relative(configDir, folderPath);
  if (rel === '') return '.';
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return folderPath;
  return `./${rel.split(path.sep).join('/')}`;
}

/** Writes a starter config (and the JSON Schema next to it); refuses to replace a config without `force`. */
export async function writeStarterConfig(options: InitOptions): Promise<InitResult> {
  const name = options.name ?? suggestFolderName(path.basename(options.folderPath));
  if (!FOLDER_NAME_PATTERN.test(name)) {
    throw new ConfigError([
      {
        path: '--name',
        message: `invalid folder name ${JSON.stringify(name.slice(0, 64))}: use 1-64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit`,
        fix: `use e.g. --name ${suggestFolderName(name)}`,
      },
    ]);
  }
  const configDir = path.dirname(options.configPath);
  const content = starterConfig(name, folderPathForConfig(configDir, options.folderPath));
  const parsed = configFileSchema.safeParse(content);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, configFileSchema, content));

  await mkdir(configDir, { recursive: true });
  try {
    await writeFile(options.configPath, `${JSON.stringify(content, null, 2)}\n`, {
      flag: options.force ? 'w' : 'wx',
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError(
        [
          {
            path: options.configPath,
            message: 'already exists; not overwritten',
            fix: 'pass --force to replace it, or -c <file> to write elsewhere',
          },
        ],
        { configPath: options.configPath },
        { cause: err },
      );
    }
    throw err;
  }
  // Generated from the code, so replacing an older copy is always right.
  const schemaPath = path.join(configDir, SCHEMA_FILE);
  await writeFile(schemaPath, renderConfigJsonSchema());
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

/** The text printed after a successful init. */
export function nextStepsText(result: InitResult, cwd: string): string {
  const needsFlag = result.configPath !== path.join(cwd, 'sync.config.json');
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
      'config file to write (default: $FILES_SYNC_CONFIG, else ./sync.config.json)',
    )
    .option('--path <folder>', 'folder to mirror (default: the current directory)')
    .option('--name <name>', 'short name of the folder (default: derived from its directory name)')
    .option('--force', 'overwrite an existing config file', false)
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ files-sync init --path ~/Documents/contracts',
        '  $ files-sync init --path ./handbook --name handbook -c /etc/files-sync/config.json',
        '  $ files-sync init --force            # replace ./sync.config.json',
        '',
        'The API key is never written to the config: set ANTHROPIC_API_KEY.',
      ].join('\n'),
    )
    .action(async (_options: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{
        config?: string;
        path?: string;
        name?: string;
        force?: boolean;
      }>();
      const cwd = process.cwd();
      const target = opts.config ?? process.env.FILES_SYNC_CONFIG ?? 'sync.config.json';
      const result = await writeStarterConfig({
        configPath: resolveAgainst(target, cwd, process.env),
        folderPath: resolveAgainst(opts.path ?? '.', cwd, process.env),
        name: opts.name,
        force: opts.force === true,
      });
      const write = command.configureOutput().writeOut ?? ((text: string) => process.stdout.write(text));
      write(nextStepsText(result, cwd));
    });
}
