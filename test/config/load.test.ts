import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveApiKey } from '../../src/config/api-key.js';
import { ConfigError, formatConfigError } from '../../src/config/errors.js';
import { loadConfig, resolveConfigPath } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { makeTempDir } from './tmp.js';

async function writeConfig(dir: string, content: unknown, name = 'sync.config.json'): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

describe('defaults', () => {
  it('fills every default and makes paths absolute', async () => {
    const dir = await makeTempDir();
    await mkdir(path.join(dir, 'docs'));
    const file = await writeConfig(dir, {
      $schema: './sync.config.schema.json',
      folders: [{ name: 'docs', path: './docs' }],
    });
    const { config, configPath, source } = await loadConfig({ configPath: file, env: { HOME: dir } });
    const expected: Config = {
      api: {
        baseUrl: 'https://api.anthropic.com',
        concurrency: 4,
        timeoutMs: 60_000,
        uploadTimeoutMs: 600_000,
        connectTimeoutMs: 10_000,
        maxRetries: 6,
        maxRetryTimeMs: 300_000,
        maxConnections: 8,
        contract: 'ga',
        workspaceExclusive: false,
      },
      stateDir: path.join(dir, '.files-sync', 'sync.config'),
      folders: [
        { name: 'docs', path: path.join(dir, 'docs'), include: [], exclude: [], followSymlinks: false },
      ],
      watch: { enabled: true, debounceMs: 1000, backend: 'parcel' },
      reconcile: { intervalMs: 900_000, onStart: true },
      safety: { maxDeletes: 500, maxDeletePercent: 25 },
      retention: { supersededMs: 600_000, removedMs: 60_000 },
      log: { level: 'info' },
      http: { listen: null, tokenFile: null },
      state: { backend: 'lowdb' },
    };
    expect(config).toEqual(expected);
    expect(configPath).toBe(file);
    expect(source).toBe('file');
  });

  it('accepts 0 to turn reconciliation off and a loopback listen address', async () => {
    const dir = await makeTempDir();
    const file = await writeConfig(dir, {
      folders: [{ name: 'docs', path: '/data/docs' }],
      reconcile: { intervalMs: 0 },
      http: { listen: '[::1]:9464' },
    });
    const { config } = await loadConfig({ configPath: file, env: { HOME: dir }, checkPaths: false });
    expect(config.reconcile.intervalMs).toBe(0);
    expect(config.http.listen).toBe('[::1]:9464');
  });
});

describe('path resolution', () => {
  it('resolves folder, stateDir and keyFile against the config file directory, not the cwd', async () => {
    const dir = await makeTempDir();
    const configDir = path.join(dir, 'etc');
    await mkdir(path.join(configDir, 'docs'), { recursive: true });
    const file = await writeConfig(configDir, {
      stateDir: 'state',
      api: { keyFile: 'secrets/key' },
      folders: [
        { name: 'docs', path: 'docs' },
        { name: 'home', path: '~/notes' },
        { name: 'abs', path: path.join(dir, 'abs') },
      ],
    });
    const { config } = await loadConfig({
      configPath: file,
      env: { HOME: path.join(dir, 'home') },
      cwd: path.join(dir, 'elsewhere'),
      checkPaths: false,
    });
    expect(config.folders.map((f) => f.path)).toEqual([
      path.join(configDir, 'docs'),
      path.join(dir, 'home', 'notes'),
      path.join(dir, 'abs'),
    ]);
    expect(config.stateDir).toBe(path.join(configDir, 'state'));
    expect(config.api.keyFile).toBe(path.join(configDir, 'secrets', 'key'));
  });

  it('resolves a relative config path and env/flag stateDir against the cwd', async () => {
    const dir = await makeTempDir();
    await writeConfig(
      path.join(dir, 'conf'),
      { stateDir: './from-file', folders: [{ name: 'docs', path: './docs' }] },
      'c.json',
    );
    const base = { configPath: 'conf/c.json', cwd: dir, checkPaths: false } as const;
    const agreeing = { HOME: dir, FILES_SYNC_STATE_DIR: 'conf/from-file' };
    const fromEnv = await loadConfig({ ...base, env: agreeing });
    expect(fromEnv.configPath).toBe(path.join(dir, 'conf', 'c.json'));
    expect(fromEnv.config.stateDir).toBe(path.join(dir, 'conf', 'from-file'));
    const fromFlag = await loadConfig({ ...base, env: { HOME: dir }, overrides: { stateDir: 'flag-state' } });
    expect(fromFlag.config.stateDir).toBe(path.join(dir, 'flag-state'));
  });
});

describe('precedence: defaults < file < env < flags', () => {
  const fileContent = {
    stateDir: '/var/lib/from-file',
    api: { baseUrl: 'https://file.example', concurrency: 8 },
    log: { level: 'warn' },
    folders: [
      { name: 'docs', path: '/data/docs' },
      { name: 'notes', path: '/data/notes' },
    ],
  };
  const env = {
    HOME: '/home/x',
    FILES_SYNC_LOG_LEVEL: 'debug',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:4010/',
    FILES_SYNC_CONCURRENCY: '12',
  };

  it('uses the file over the defaults', async () => {
    const dir = await makeTempDir();
    const file = await writeConfig(dir, fileContent);
    const { config } = await loadConfig({ configPath: file, env: { HOME: dir }, checkPaths: false });
    expect(config.stateDir).toBe('/var/lib/from-file');
    expect(config.api.baseUrl).toBe('https://file.example');
    expect(config.api.concurrency).toBe(8);
    expect(config.log.level).toBe('warn');
  });

  it('uses env over the file (and drops a trailing slash from the base URL)', async () => {
    const dir = await makeTempDir();
    const file = await writeConfig(dir, fileContent);
    const { config } = await loadConfig({ configPath: file, env, checkPaths: false });
    expect(config.stateDir).toBe('/var/lib/from-file');
    expect(config.api.baseUrl).toBe('http://127.0.0.1:4010');
    expect(config.api.concurrency).toBe(12);
    expect(config.log.level).toBe('debug');
  });

  it('uses flags over env, and --folder keeps only the named folders', async () => {
    const dir = await makeTempDir();
    const file = await writeConfig(dir, fileContent);
    const { config } = await loadConfig({
      configPath: file,
      env,
      checkPaths: false,
      overrides: {
        stateDir: '/var/lib/from-flag',
        logLevel: 'trace',
        baseUrl: 'http://127.0.0.1:5000',
        concurrency: 2,
        folders: ['notes'],
      },
    });
    expect(config.stateDir).toBe('/var/lib/from-flag');
    expect(config.api.baseUrl).toBe('http://127.0.0.1:5000');
    expect(config.api.concurrency).toBe(2);
    expect(config.log.level).toBe('trace');
    expect(config.folders.map((f) => f.name)).toEqual(['notes']);
  });

  it('treats an empty env var as unset', async () => {
    const dir = await makeTempDir();
    const file = await writeConfig(dir, fileContent);
    const { config } = await loadConfig({
      configPath: file,
      env: { HOME: dir, FILES_SYNC_CONCURRENCY: '', FILES_SYNC_LOG_LEVEL: ' ' },
      checkPaths: false,
    });
    expect(config.api.concurrency).toBe(8);
    expect(config.log.level).toBe('warn');
  });

  it('only checks that the folders kept by --folder exist', async () => {
    const dir = await makeTempDir();
    await mkdir(path.join(dir, 'docs'));
    const file = await writeConfig(dir, {
      folders: [
        { name: 'docs', path: './docs' },
        { name: 'gone', path: './gone' },
      ],
    });
    const { config } = await loadConfig({
      configPath: file,
      env: { HOME: dir },
      overrides: { folders: ['docs'] },
    });
    expect(config.folders.map((f) => f.name)).toEqual(['docs']);
    await expect(loadConfig({ configPath: file, env: { HOME: dir } })).rejects.toThrow(
      /folders\[1\]\.path: folder does not exist/,
    );
  });
});

describe('secrets', () => {
  const key = 'sk-ant-api03-Zq8vT3xN0pL5mK2wR7yH4bC9dF1gJ6sA';

  it('refuses key-like fields without ever echoing the key', async () => {
    const dir = await makeTempDir();
    const file = await writeConfig(dir, {
      apiKey: key,
      api: { key, apiKey: key, concurency: key },
      folders: [{ name: key, path: `/nowhere/${key}`, include: [`/${key}`] }],
      log: { level: key },
    });
    const err = await loadConfig({ configPath: file, env: { HOME: dir } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const configError = err as ConfigError;
    const everything = [
      configError.message,
      formatConfigError(configError),
      JSON.stringify(configError.context),
      String(configError.stack),
    ].join('\n');
    expect(everything.toLowerCase()).not.toContain(key.toLowerCase());
    expect(everything.toLowerCase()).not.toContain('zq8vt3xn0pl5');
    const keyIssues = configError.issues.filter((i) => i.fix.includes('put the key in ANTHROPIC_API_KEY'));
    expect(keyIssues.map((i) => i.path).sort()).toEqual(['api.apiKey', 'api.key', 'apiKey']);
  });

  it('scrubs the ANTHROPIC_API_KEY value from any message, whatever field it was pasted into', async () => {
    const dir = await makeTempDir();
    const plain = 'correct-horse-battery-staple';
    const file = await writeConfig(dir, { folders: [{ name: 'docs', path: `./${plain}` }] });
    const err = await loadConfig({ configPath: file, env: { HOME: dir, ANTHROPIC_API_KEY: plain } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]?.message).toContain('folder does not exist');
    expect((err as ConfigError).message).not.toContain(plain);
  });

  it('does not quote the text around a JSON syntax error (it may be a pasted key)', async () => {
    const dir = await makeTempDir();
    const file = await writeConfig(dir, `{\n  "folders": [],\n  "apiKey": ${key}\n}`);
    const err = await loadConfig({ configPath: file, env: { HOME: dir } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]?.path).toBe(`${file}:3:13`);
    expect((err as ConfigError).message).toContain('unquoted text');
    expect((err as ConfigError).message).not.toContain('sk-ant');
  });

  it('reads the key from ANTHROPIC_API_KEY first, else from api.keyFile', async () => {
    const dir = await makeTempDir();
    const keyFile = path.join(dir, 'key');
    await writeFile(keyFile, `${key}\n`);
    expect(
      await resolveApiKey({ api: { keyFile } as Config['api'] }, { ANTHROPIC_API_KEY: 'env-key-123456' }),
    ).toBe('env-key-123456');
    expect(await resolveApiKey({ api: { keyFile } as Config['api'] }, {})).toBe(key);
    const missing = await resolveApiKey({ api: {} as Config['api'] }, {}).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as ConfigError).issues[0]?.fix).toContain('put the key in ANTHROPIC_API_KEY');
    await writeFile(keyFile, '\n');
    await expect(resolveApiKey({ api: { keyFile } as Config['api'] }, {})).rejects.toThrow(
      /key file is empty/,
    );
  });
});

describe('resolveConfigPath search order', () => {
  async function layout() {
    const dir = await makeTempDir();
    const cwd = path.join(dir, 'cwd');
    const xdg = path.join(dir, 'xdg');
    await mkdir(cwd, { recursive: true });
    return { dir, cwd, xdg, env: { HOME: dir, XDG_CONFIG_HOME: xdg } as NodeJS.ProcessEnv };
  }

  it('prefers -c, then $FILES_SYNC_CONFIG, even when those files do not exist', async () => {
    const { cwd, env } = await layout();
    await writeConfig(cwd, {});
    expect(resolveConfigPath('my.json', { ...env, FILES_SYNC_CONFIG: '/env.json' }, cwd)).toBe(
      path.join(cwd, 'my.json'),
    );
    expect(resolveConfigPath(undefined, { ...env, FILES_SYNC_CONFIG: 'env.json' }, cwd)).toBe(
      path.join(cwd, 'env.json'),
    );
  });

  it('then ./sync.config.json, then $XDG_CONFIG_HOME/files-sync/config.json', async () => {
    const { cwd, xdg, env } = await layout();
    const xdgFile = await writeConfig(path.join(xdg, 'files-sync'), {}, 'config.json');
    expect(resolveConfigPath(undefined, env, cwd)).toBe(xdgFile);
    const local = await writeConfig(cwd, {});
    expect(resolveConfigPath(undefined, env, cwd)).toBe(local);
  });

  it('falls back to ~/.config when XDG_CONFIG_HOME is unset', async () => {
    const { dir, cwd } = await layout();
    const file = await writeConfig(path.join(dir, '.config', 'files-sync'), {}, 'config.json');
    expect(resolveConfigPath(undefined, { HOME: dir }, cwd)).toBe(file);
  });

  it('names the places it looked when none exists', async () => {
    const { cwd, xdg, env } = await layout();
    expect(() => resolveConfigPath(undefined, env, cwd)).toThrow(ConfigError);
    expect(() => resolveConfigPath(undefined, env, cwd)).toThrow(
      `no config file found (looked for ${path.join(cwd, 'sync.config.json')}, ${path.join(xdg, 'files-sync', 'config.json')}, /etc/files-sync/config.json)`,
    );
  });
});
