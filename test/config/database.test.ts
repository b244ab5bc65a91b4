// The database settings: a password in a URL is refused (config or env), the password file is resolved beside the config and must be private.
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { makeProject, runCli } from '../helpers/project.js';
import { makeTempDir } from './tmp.js';

const SECRET = 'hunter2-Very-Secret';

async function load(state: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, cwd?: string) {
  const dir = await makeTempDir();
  await mkdir(path.join(dir, 'docs'));
  const file = path.join(dir, 'conf', 'sync.config.json');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ folders: [{ name: 'docs', path: '../docs' }], state }));
  const run = () => loadConfig({ configPath: file, env: { HOME: dir, ...env }, cwd: cwd ?? dir });
  return { dir, confDir: path.dirname(file), run };
}

async function issuesOf(run: () => Promise<unknown>): Promise<ConfigError> {
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  const e = err as ConfigError;
  expect(e.message).not.toContain(SECRET);
  expect(JSON.stringify(e.issues)).not.toContain(SECRET);
  return e;
}

describe('database URL', () => {
  it('refuses a password in state.url, naming the field and the fix', async () => {
    const { run } = await load({ backend: 'postgres', url: `postgres://fs:${SECRET}@db.example/files_sync` });
    const e = await issuesOf(run);
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]).toMatchObject({ path: 'state.url' });
    expect(e.issues[0]!.message).toContain('holds a password');
    expect(e.issues[0]!.fix).toContain('PGPASSWORD');
    expect(e.issues[0]!.fix).toContain('state.passwordFile');
  });

  it('refuses a password parameter too', async () => {
    const { run } = await load({
      backend: 'postgres',
      url: `postgres://fs@db.example/files_sync?password=${SECRET}`,
    });
    const e = await issuesOf(run);
    expect(e.issues[0]!.message).toContain('"password" parameter');
  });

  it('refuses a password in FILES_SYNC_DATABASE_URL whatever the backend (state migrate reads it)', async () => {
    const { run } = await load(
      {},
      { FILES_SYNC_DATABASE_URL: `postgres://fs:${SECRET}@db.example/files_sync` },
    );
    const e = await issuesOf(run);
    expect(e.issues.map((i) => i.path)).toEqual(['FILES_SYNC_DATABASE_URL']);
    expect(e.issues[0]!.fix).toContain('PGPASSWORD');
  });

  it('accepts URLs without a password', async () => {
    const { run } = await load(
      { backend: 'postgres', url: 'postgres://fs@db.example:5432/files_sync' },
      { FILES_SYNC_DATABASE_URL: 'postgresql://fs@other/files_sync', PGPASSWORD: SECRET },
    );
    const { config } = await run();
    expect(config.state).toEqual({ backend: 'postgres', url: 'postgres://fs@db.example:5432/files_sync' });
  });

  it('refuses a URL that is not a PostgreSQL URL, without quoting it', async () => {
    const { run } = await load({ backend: 'postgres', url: `host=db password=${SECRET}` });
    const e = await issuesOf(run);
    expect(e.issues[0]!.message).toContain('postgres://user@host:port/database');
  });
});

describe('state.passwordFile', () => {
  it("is resolved against the config file's directory, not the working directory", async () => {
    const { confDir, run } = await load(
      { backend: 'postgres', url: 'postgres://fs@db/files_sync', passwordFile: 'secrets/db-password' },
      {},
      '/',
    );
    await mkdir(path.join(confDir, 'secrets'));
    await writeFile(path.join(confDir, 'secrets', 'db-password'), `${SECRET}\n`, { mode: 0o600 });
    const { config } = await run();
    expect(config.state.passwordFile).toBe(path.join(confDir, 'secrets', 'db-password'));
  });

  it('a missing file is a config error naming the resolved path', async () => {
    const { confDir, run } = await load({ backend: 'postgres', passwordFile: 'nope' });
    const e = await issuesOf(run);
    expect(e.issues[0]).toMatchObject({ path: 'state.passwordFile' });
    expect(e.issues[0]!.message).toContain(`cannot be read (ENOENT): ${path.join(confDir, 'nope')}`);
  });

  it('a file other users can read is a config error; chmod 600 fixes it', async () => {
    const { confDir, run } = await load({ backend: 'postgres', passwordFile: 'pw' });
    const file = path.join(confDir, 'pw');
    await writeFile(file, SECRET);
    await chmod(file, 0o644);
    const e = await issuesOf(run);
    expect(e.issues[0]!.message).toContain('open to other users (mode 0644)');
    expect(e.issues[0]!.fix).toBe(`run chmod 600 ${file}`);
    await chmod(file, 0o600);
    await expect(run()).resolves.toBeDefined();
  });

  it('an empty file is a config error', async () => {
    const { confDir, run } = await load({ backend: 'postgres', passwordFile: 'pw' });
    await writeFile(path.join(confDir, 'pw'), '\n', { mode: 0o600 });
    const e = await issuesOf(run);
    expect(e.issues[0]!.message).toContain('password file is empty');
  });
});

describe('the CLI', () => {
  it('exits 78 before touching anything, and never shows the password', async () => {
    const p = await makeProject({
      files: { 'a.txt': 'a' },
      config: { state: { backend: 'postgres', url: `postgres://fs:${SECRET}@127.0.0.1:1/files_sync` } },
    });
    const r = await runCli(['sync', '-c', p.configPath], { env: p.env });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('state.url');
    expect(r.stderr).toContain('PGPASSWORD');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(p.emulator.stats().uploadsCreated).toBe(0);
    await expect(access(p.stateDir)).rejects.toThrow(/ENOENT/);
  });
});
