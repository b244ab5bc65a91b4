import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigError, type ConfigIssue } from '../../src/config/errors.js';
import { loadConfig, type ConfigOverrides } from '../../src/config/load.js';
import { makeTempDir } from './tmp.js';

const docs = { name: 'docs', path: './docs' };

/** A minimal valid config with the given changes merged in. */
function withBase(extra: Record<string, unknown>): Record<string, unknown> {
  return { stateDir: './state', folders: [docs], ...extra };
}

interface MistakeRow {
  name: string;
  /** An object is written as JSON; a string is written as the raw file text. */
  input: Record<string, unknown> | unknown[] | string;
  /** Expected issue path; `<file>` stands for the config file's absolute path. */
  path: string;
  message: string;
  fix: string;
  env?: Record<string, string>;
  overrides?: ConfigOverrides;
}

const rows: MistakeRow[] = [
  // unknown keys
  {
    name: 'unknown top-level key',
    input: withBase({ foldrs: [] }),
    path: 'foldrs',
    message: 'unknown key "foldrs"',
    fix: 'did you mean "folders"',
  },
  {
    name: 'unknown nested key',
    input: withBase({ api: { concurency: 4 } }),
    path: 'api.concurency',
    message: 'unknown key',
    fix: 'did you mean "concurrency"',
  },
  {
    name: 'unknown key, nothing close',
    input: withBase({ colour: 'blue' }),
    path: 'colour',
    message: 'unknown key "colour"',
    fix: 'known keys here: api, stateDir, folders',
  },
  {
    name: 'unknown folder key',
    input: withBase({ folders: [{ ...docs, excludes: [] }] }),
    path: 'folders[0].excludes',
    message: 'unknown key',
    fix: 'did you mean "exclude"',
  },
  {
    name: 'unknown key in watch',
    input: withBase({ watch: { debounce: 10 } }),
    path: 'watch.debounce',
    message: 'unknown key',
    fix: '"debounceMs"',
  },
  // wrong types
  {
    name: 'number in quotes',
    input: withBase({ api: { concurrency: '4' } }),
    path: 'api.concurrency',
    message: 'must be a number, got a string',
    fix: 'remove the quotes: 4',
  },
  {
    name: 'boolean as word',
    input: withBase({ watch: { enabled: 'yes' } }),
    path: 'watch.enabled',
    message: 'must be true or false',
    fix: 'true or false',
  },
  {
    name: 'boolean in quotes',
    input: withBase({ reconcile: { onStart: 'false' } }),
    path: 'reconcile.onStart',
    message: 'got a string',
    fix: 'remove the quotes: false',
  },
  {
    name: 'section not an object',
    input: withBase({ api: 5 }),
    path: 'api',
    message: 'must be an object',
    fix: 'use { ... }',
  },
  {
    name: 'folders not a list',
    input: withBase({ folders: { name: 'docs' } }),
    path: 'folders',
    message: 'must be a list',
    fix: 'use [ ... ]',
  },
  {
    name: 'folder path not a string',
    input: withBase({ folders: [{ name: 'docs', path: 3 }] }),
    path: 'folders[0].path',
    message: 'must be a string, got 3',
    fix: 'double quotes',
  },
  {
    name: 'glob not a string',
    input: withBase({ folders: [{ ...docs, include: ['*.md', 7] }] }),
    path: 'folders[0].include[1]',
    message: 'must be a string',
    fix: 'double quotes',
  },
  {
    name: 'whole config is a list',
    input: [],
    path: '(root)',
    message: 'must be a JSON object',
    fix: 'wrap the settings in { ... }',
  },
  {
    name: 'listen not a string',
    input: withBase({ http: { listen: 9464 } }),
    path: 'http.listen',
    message: 'must be a string',
    fix: 'double quotes',
  },
  // out of range
  {
    name: 'concurrency too low',
    input: withBase({ api: { concurrency: 0 } }),
    path: 'api.concurrency',
    message: 'between 1 and 64, got 0',
    fix: 'from 1 to 64',
  },
  {
    name: 'concurrency too high',
    input: withBase({ api: { concurrency: 65 } }),
    path: 'api.concurrency',
    message: 'between 1 and 64, got 65',
    fix: 'from 1 to 64',
  },
  {
    name: 'debounce too long',
    input: withBase({ watch: { debounceMs: 60_001 } }),
    path: 'watch.debounceMs',
    message: 'between 100 and 60000',
    fix: 'from 100 to 60000',
  },
  {
    name: 'debounce too short',
    input: withBase({ watch: { debounceMs: 20 } }),
    path: 'watch.debounceMs',
    message: 'between 100 and 60000, got 20',
    fix: 'from 100 to 60000',
  },
  {
    name: 'not a whole number',
    input: withBase({ api: { maxRetries: 2.5 } }),
    path: 'api.maxRetries',
    message: 'must be a whole number, got 2.5',
    fix: 'use 3',
  },
  {
    name: 'delete percent over 100',
    input: withBase({ safety: { maxDeletePercent: 150 } }),
    path: 'safety.maxDeletePercent',
    message: 'between 0 and 100, got 150',
    fix: 'from 0 to 100',
  },
  {
    name: 'negative delete count',
    input: withBase({ safety: { maxDeletes: -5 } }),
    path: 'safety.maxDeletes',
    message: 'got -5',
    fix: 'from 0 to',
  },
  {
    name: 'reconcile too often',
    input: withBase({ reconcile: { intervalMs: 5000 } }),
    path: 'reconcile.intervalMs',
    message: 'must be 0 (off) or at least 10000',
    fix: 'use 0 to turn periodic reconciliation off',
  },
  // missing / empty
  {
    name: 'no folders key',
    input: { stateDir: './state' },
    path: 'folders',
    message: 'is required',
    fix: 'add "folders": [{ "name": "docs"',
  },
  {
    name: 'empty folders list',
    input: withBase({ folders: [] }),
    path: 'folders',
    message: 'needs at least one folder',
    fix: 'add one',
  },
  {
    name: 'folder without name',
    input: withBase({ folders: [{ path: './docs' }] }),
    path: 'folders[0].name',
    message: 'is required',
    fix: 'add "name"',
  },
  {
    name: 'folder without path',
    input: withBase({ folders: [{ name: 'docs' }] }),
    path: 'folders[0].path',
    message: 'is required',
    fix: 'add "path"',
  },
  {
    name: 'empty folder path',
    input: withBase({ folders: [{ name: 'docs', path: '' }] }),
    path: 'folders[0].path',
    message: 'must not be empty',
    fix: 'give a value',
  },
  {
    name: 'empty keyFile',
    input: withBase({ api: { keyFile: '' } }),
    path: 'api.keyFile',
    message: 'must not be empty',
    fix: 'give a value',
  },
  // folder names and paths
  {
    name: 'folder name with capitals and spaces',
    input: withBase({ folders: [{ name: 'My Docs', path: './docs' }] }),
    path: 'folders[0].name',
    message: 'must be 1-64 characters',
    fix: 'rename it, e.g. "my-docs"',
  },
  {
    name: 'folder name too long',
    input: withBase({ folders: [{ name: 'a'.repeat(65), path: './docs' }] }),
    path: 'folders[0].name',
    message: 'must be 1-64 characters',
    fix: 'rename it',
  },
  {
    name: 'duplicate folder names',
    input: withBase({ folders: [docs, { name: 'docs', path: './notes' }] }),
    path: 'folders[1].name',
    message: 'duplicate folder name "docs" (also folders[0].name)',
    fix: 'unique name',
  },
  {
    name: 'duplicate folder paths',
    input: withBase({ folders: [docs, { name: 'docs2', path: 'docs/' }] }),
    path: 'folders[1].path',
    message: 'same folder as folders[0] ("docs")',
    fix: 'list each folder once',
  },
  {
    name: 'same folder through a symlink',
    input: withBase({ folders: [docs, { name: 'alias', path: './docs-link' }] }),
    path: 'folders[1].path',
    message: 'same folder as folders[0]',
    fix: 'list each folder once',
  },
  {
    name: 'nested folders',
    input: withBase({ folders: [docs, { name: 'sub', path: './docs/sub' }] }),
    path: 'folders[1].path',
    message: 'folder "sub"',
    fix: 'do not contain each other',
  },
  {
    name: 'parent listed after child',
    input: withBase({
      folders: [
        { name: 'sub', path: './docs/sub' },
        { name: 'all', path: '.' },
      ],
    }),
    path: 'folders[1].path',
    message: 'is inside folder "all"',
    fix: 'remove one of them',
  },
  {
    name: 'folder missing on disk',
    input: withBase({ folders: [{ name: 'gone', path: './missing' }] }),
    path: 'folders[0].path',
    message: 'folder does not exist: <dir>/missing',
    fix: 'mkdir -p <dir>/missing',
  },
  {
    name: 'folder is a file',
    input: withBase({ folders: [{ name: 'file', path: './a-file' }] }),
    path: 'folders[0].path',
    message: 'is not a directory: <dir>/a-file',
    fix: 'instead of <dir>/a-file',
  },
  // globs
  {
    name: 'unclosed bracket glob',
    input: withBase({ folders: [{ ...docs, include: ['[abc'] }] }),
    path: 'folders[0].include[0]',
    message: 'invalid glob pattern',
    fix: 'escape it',
  },
  {
    name: 'unclosed brace glob',
    input: withBase({ folders: [{ ...docs, exclude: ['*.{md'] }] }),
    path: 'folders[0].exclude[0]',
    message: 'invalid glob pattern',
    fix: 'close the bracket',
  },
  {
    name: 'absolute glob',
    input: withBase({ folders: [{ ...docs, exclude: ['/tmp/**'] }] }),
    path: 'folders[0].exclude[0]',
    message: 'must not start with "/"',
    fix: 'drop the leading "/" (e.g. "tmp/**")',
  },
  {
    name: 'negated glob',
    input: withBase({ folders: [{ ...docs, include: ['!*.log'] }] }),
    path: 'folders[0].include[0]',
    message: 'negated glob patterns',
    fix: 'put "*.log" in the other list',
  },
  {
    name: 'glob leaving the folder',
    input: withBase({ folders: [{ ...docs, include: ['../other/**'] }] }),
    path: 'folders[0].include[0]',
    message: 'outside the folder',
    fix: 'remove the ".." segment',
  },
  {
    name: 'empty glob',
    input: withBase({ folders: [{ ...docs, exclude: [''] }] }),
    path: 'folders[0].exclude[0]',
    message: 'empty glob pattern',
    fix: 'remove the empty pattern',
  },
  // enums, URL, listen address
  {
    name: 'log level typo',
    input: withBase({ log: { level: 'debgu' } }),
    path: 'log.level',
    message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    fix: 'use "debug"',
  },
  {
    name: 'log level unknown word',
    input: withBase({ log: { level: 'verbose' } }),
    path: 'log.level',
    message: 'got the string "verbose"',
    fix: 'use one of "fatal"',
  },
  {
    name: 'unknown watch backend',
    input: withBase({ watch: { backend: 'inotify' } }),
    path: 'watch.backend',
    message: 'must be one of parcel, chokidar',
    fix: 'use one of "parcel", "chokidar"',
  },
  {
    name: 'base URL not http',
    input: withBase({ api: { baseUrl: 'ftp://files.example' } }),
    path: 'api.baseUrl',
    message: 'http:// or https:// URL',
    fix: 'https://api.anthropic.com',
  },
  {
    name: 'base URL not a URL',
    input: withBase({ api: { baseUrl: 'api.anthropic.com' } }),
    path: 'api.baseUrl',
    message: 'http:// or https:// URL',
    fix: 'https://api.anthropic.com',
  },
  {
    name: 'listen on all interfaces',
    input: withBase({ http: { listen: '0.0.0.0:9464' } }),
    path: 'http.listen',
    message: 'a non-loopback host needs a bearer token',
    fix: 'set http.tokenFile',
  },
  {
    name: 'listen on a LAN address',
    input: withBase({ http: { listen: '192.168.1.5:80' } }),
    path: 'http.listen',
    message: 'got host "192.168.1.5"',
    fix: '"127.0.0.1:80"',
  },
  {
    name: 'listen without port',
    input: withBase({ http: { listen: 'localhost' } }),
    path: 'http.listen',
    message: 'must be "host:port"',
    fix: '"127.0.0.1:9464"',
  },
  {
    name: 'listen port out of range',
    input: withBase({ http: { listen: '127.0.0.1:70000' } }),
    path: 'http.listen',
    message: 'port 0-65535',
    fix: '"127.0.0.1:9464"',
  },
  // JSON syntax
  {
    name: 'trailing comma',
    input: '{\n  "folders": [],\n}\n',
    path: '<file>:3:1',
    message: 'invalid JSON: trailing comma before "}"',
    fix: 'remove the comma',
  },
  {
    name: 'missing comma',
    input: '{\n  "stateDir": "./state"\n  "folders": []\n}',
    path: '<file>:3:3',
    message: 'missing ","',
    fix: 'add a comma',
  },
  {
    name: 'comment',
    input: '{\n  // my folders\n  "folders": []\n}',
    path: '<file>:2:3',
    message: 'comments are not allowed',
    fix: 'remove the comment',
  },
  {
    name: 'single quotes',
    input: "{ 'folders': [] }",
    path: '<file>:1:3',
    message: 'single quote',
    fix: 'double quotes',
  },
  {
    name: 'unclosed object',
    input: '{ "folders": [ { "name": "docs", "path": "./docs" } ]',
    path: '<file>:1:54',
    message: 'unexpected end of file',
    fix: 'close every',
  },
  {
    name: 'empty file',
    input: '  \n',
    path: '<file>:2:1',
    message: 'the file is empty',
    fix: 'files-sync init --force',
  },
  {
    name: 'Windows path with single backslashes',
    input: '{ "folders": [ { "name": "d", "path": "C:\\data" } ] }',
    path: '<file>:1:42',
    message: 'invalid escape',
    fix: 'write a backslash as \\\\',
  },
  // Files API contract, workspaces, expiry
  {
    name: 'unknown API contract',
    input: withBase({ api: { contract: 'GA' } }),
    path: 'api.contract',
    message: 'must be one of ga, beta',
    fix: 'use "ga"',
  },
  {
    name: 'API contract as a beta header value',
    input: withBase({ api: { contract: 'files-api-2025-04-14' } }),
    path: 'api.contract',
    message: 'must be one of ga, beta',
    fix: 'use one of "ga", "beta"',
  },
  {
    name: 'workspace name instead of ID',
    input: withBase({ api: { workspaceId: 'Legal team' } }),
    path: 'api.workspaceId',
    message: 'must be a workspace ID like "wrkspc_',
    fix: 'starts with "wrkspc_"',
  },
  {
    name: 'folder workspace ID empty',
    input: withBase({ folders: [{ ...docs, workspaceId: '' }] }),
    path: 'folders[0].workspaceId',
    message: 'must be a workspace ID',
    fix: 'not the workspace name',
  },
  {
    name: 'expiry shorter than an hour',
    input: withBase({ folders: [{ ...docs, expiresInSeconds: 600 }] }),
    path: 'folders[0].expiresInSeconds',
    message: 'between 3600 and 7776000, got 600',
    fix: 'from 3600 to 7776000',
  },
  {
    name: 'expiry longer than ninety days',
    input: withBase({ folders: [{ ...docs, expiresInSeconds: 7_776_001 }] }),
    path: 'folders[0].expiresInSeconds',
    message: 'got 7776001',
    fix: 'from 3600 to 7776000',
  },
  {
    name: 'expiry in quotes',
    input: withBase({ folders: [{ ...docs, expiresInSeconds: '86400' }] }),
    path: 'folders[0].expiresInSeconds',
    message: 'must be a number, got a string',
    fix: 'remove the quotes: 86400',
  },
  {
    name: 'expiresInSeconds at the api level',
    input: withBase({ api: { expiresInSeconds: 86400 } }),
    path: 'api.expiresInSeconds',
    message: 'unknown key',
    fix: 'known keys here',
  },
  // keys in the file
  {
    name: 'apiKey at the top',
    input: withBase({ apiKey: 'sk-ant-api03-abcdefghijklmnop' }),
    path: 'apiKey',
    message: 'an API key does not belong in the config file',
    fix: 'put the key in ANTHROPIC_API_KEY',
  },
  {
    name: 'api.key',
    input: withBase({ api: { key: 'sk-ant-api03-abcdefghijklmnop' } }),
    path: 'api.key',
    message: 'value not shown',
    fix: 'put the key in ANTHROPIC_API_KEY',
  },
  {
    name: 'api.apiKey',
    input: withBase({ api: { apiKey: 'sk-ant-api03-abcdefghijklmnop' } }),
    path: 'api.apiKey',
    message: 'does not belong',
    fix: 'put the key in ANTHROPIC_API_KEY',
  },
  // env and flags
  {
    name: 'concurrency env not a number',
    input: withBase({}),
    env: { FILES_SYNC_CONCURRENCY: 'lots' },
    path: 'FILES_SYNC_CONCURRENCY',
    message: 'must be a number, got the string "lots" (overrides api.concurrency)',
    fix: 'unset FILES_SYNC_CONCURRENCY',
  },
  {
    name: 'concurrency env out of range',
    input: withBase({}),
    env: { FILES_SYNC_CONCURRENCY: '100' },
    path: 'FILES_SYNC_CONCURRENCY',
    message: 'between 1 and 64, got 100',
    fix: 'from 1 to 64, or unset FILES_SYNC_CONCURRENCY',
  },
  {
    name: 'log level env',
    input: withBase({}),
    env: { FILES_SYNC_LOG_LEVEL: 'loud' },
    path: 'FILES_SYNC_LOG_LEVEL',
    message: 'must be one of',
    fix: 'unset FILES_SYNC_LOG_LEVEL',
  },
  {
    name: 'base URL env',
    input: withBase({}),
    env: { ANTHROPIC_BASE_URL: 'localhost:4000' },
    path: 'ANTHROPIC_BASE_URL',
    message: 'http:// or https:// URL',
    fix: 'unset ANTHROPIC_BASE_URL',
  },
  {
    name: 'state dir env disagrees with the file',
    input: withBase({}),
    env: { FILES_SYNC_STATE_DIR: '<dir>/other-state' },
    path: 'FILES_SYNC_STATE_DIR',
    message: "names the state directory <dir>/other-state, but the config's stateDir is <dir>/state",
    fix: 'set "stateDir": "<dir>/other-state" in <file> (every command then agrees), or unset FILES_SYNC_STATE_DIR',
  },
  {
    name: 'state dir in file not writable',
    input: withBase({ stateDir: './a-file/state' }),
    path: 'stateDir',
    message: 'state directory is not writable',
    fix: 'use a writable directory',
  },
  {
    name: '--concurrency flag',
    input: withBase({}),
    overrides: { concurrency: 99 },
    path: '--concurrency',
    message: 'between 1 and 64, got 99',
    fix: 'unset --concurrency',
  },
  {
    name: '--log-level flag',
    input: withBase({}),
    overrides: { logLevel: 'inf' },
    path: '--log-level',
    message: 'must be one of',
    fix: 'use "info"',
  },
  {
    name: '--base-url flag',
    input: withBase({}),
    overrides: { baseUrl: 'nope' },
    path: '--base-url',
    message: 'URL',
    fix: 'https://api.anthropic.com',
  },
  {
    name: '--folder with an unknown name',
    input: withBase({ folders: [docs, { name: 'notes', path: './notes' }] }),
    overrides: { folders: ['doc'] },
    path: '--folder',
    message: 'unknown folder "doc"',
    fix: 'docs, notes',
  },
];

async function prepareDir(): Promise<string> {
  const dir = await makeTempDir();
  await mkdir(path.join(dir, 'docs', 'sub'), { recursive: true });
  await mkdir(path.join(dir, 'notes'));
  await writeFile(path.join(dir, 'a-file'), 'not a folder');
  const { symlink } = await import('node:fs/promises');
  await symlink(path.join(dir, 'docs'), path.join(dir, 'docs-link'));
  return dir;
}

async function issuesFor(row: MistakeRow, dir: string, file: string): Promise<ConfigIssue[]> {
  const text = typeof row.input === 'string' ? row.input : JSON.stringify(row.input, null, 2);
  await writeFile(file, text);
  const env: Record<string, string> = { HOME: dir };
  for (const [k, v] of Object.entries(row.env ?? {})) env[k] = v.replaceAll('<dir>', dir);
  try {
    await loadConfig({ configPath: file, env, overrides: row.overrides ?? {}, cwd: dir });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected loadConfig to reject');
}

describe('every config mistake gets a path, a message and a fix', () => {
  it.each(rows)('$name', async (row) => {
    const dir = await prepareDir();
    const file = path.join(dir, 'sync.config.json');
    const issues = await issuesFor(row, dir, file);
    const fill = (s: string) => s.replaceAll('<file>', file).replaceAll('<dir>', dir);
    const expectedPath = fill(row.path);
    const match = issues.find((issue) => issue.path === expectedPath);
    expect(match, `issues were: ${JSON.stringify(issues, null, 1)}`).toBeDefined();
    expect(match?.message).toContain(fill(row.message));
    expect(match?.fix).toContain(fill(row.fix));
  });
});

describe('reporting', () => {
  it('reports every problem at once, one line each, with its fix', async () => {
    const dir = await prepareDir();
    const file = path.join(dir, 'sync.config.json');
    const input = withBase({
      api: { concurrency: 0, timeout: 5 },
      log: { level: 'loud' },
      folders: [{ name: 'Docs', path: './docs' }],
    });
    await writeFile(file, JSON.stringify(input));
    const err = await loadConfig({ configPath: file, env: { HOME: dir } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const lines = formatConfigError(err as ConfigError).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines).toContain(
      'api.concurrency: must be a whole number between 1 and 64, got 0. Fix: use a value from 1 to 64',
    );
    for (const line of lines) expect(line).toMatch(/^[\w.[\]]+: .+\. Fix: .+/);
    expect((err as ConfigError).message).toContain(file);
  });

  it('names every place it looked when no config file exists', async () => {
    const dir = await makeTempDir();
    const err = await loadConfig({
      env: { HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'xdg') },
      cwd: dir,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const [issue] = (err as ConfigError).issues;
    expect(issue?.message).toContain(path.join(dir, 'sync.config.json'));
    expect(issue?.message).toContain(path.join(dir, 'xdg', 'files-sync', 'config.json'));
    expect(issue?.message).toContain('/etc/files-sync/config.json');
    expect(issue?.fix).toContain('files-sync init');
  });

  it('suggests `files-sync init` for an explicit file that does not exist', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'nope.json');
    const err = await loadConfig({ configPath: file, env: { HOME: dir } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      {
        path: file,
        message: 'config file not found',
        fix: `run \`files-sync init -c ${file}\` to write one`,
      },
    ]);
  });
});
