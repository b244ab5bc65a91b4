/** N1: one config file, one state directory, whatever the environment of the process reading it. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { derivedStateDir } from '../../src/config/paths.js';
import { makeTempDir } from './tmp.js';

async function configIn(dir: string, content: Record<string, unknown>, name = 'sync.config.json') {
  const file = path.join(dir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(file, JSON.stringify({ folders: [{ name: 'docs', path: '/data/docs' }], ...content }));
  return file;
}

const load = (configPath: string, env: NodeJS.ProcessEnv, overrides = {}) =>
  loadConfig({ configPath, env, checkPaths: false, overrides });

async function issuesOf(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).issues;
}

describe('derivedStateDir: the state dir of a config without stateDir, from its location only', () => {
  it.each([
    ['/etc/files-sync/config.json', '/var/lib/files-sync'],
    ['/etc/files-sync/photos.json', '/var/lib/files-sync/photos'],
    ['/home/ann/.config/files-sync/config.json', '/home/ann/.local/state/files-sync'],
    ['/home/ann/.config/files-sync/work.json', '/home/ann/.local/state/files-sync/work'],
    ['/srv/project/sync.config.json', '/srv/project/.files-sync/sync.config'],
    ['/etc/files-sync/sub/config.json', '/etc/files-sync/sub/.files-sync/config'],
  ])('%s -> %s', (config, state) => {
    expect(derivedStateDir(config)).toBe(state);
  });
});

describe('loadConfig: the same config file resolves to the same state dir in every environment', () => {
  it('the service (STATE_DIRECTORY, its own HOME) and an admin shell agree on a config without stateDir', async () => {
    const dir = await makeTempDir();
    const file = await configIn(dir, {});
    const derived = path.join(dir, '.files-sync', 'sync.config');
    const service = await load(file, { HOME: '/var/lib/files-sync', STATE_DIRECTORY: `${derived}:/x` });
    const admin = await load(file, { HOME: path.join(dir, 'root-home'), XDG_STATE_HOME: '/elsewhere' });
    expect(service.config.stateDir).toBe(derived);
    expect(admin.config.stateDir).toBe(derived);
  });

  it('an explicit stateDir is used whatever the environment, and an agreeing env var is accepted', async () => {
    const dir = await makeTempDir();
    const file = await configIn(dir, { stateDir: './state' });
    const state = path.join(dir, 'state');
    expect((await load(file, { HOME: dir })).config.stateDir).toBe(state);
    expect((await load(file, { HOME: dir, STATE_DIRECTORY: state })).config.stateDir).toBe(state);
    expect((await load(file, { HOME: dir, FILES_SYNC_STATE_DIR: `${state}/` })).config.stateDir).toBe(state);
  });

  it('refuses an env var naming another directory, naming both and the fix', async () => {
    const dir = await makeTempDir();
    const explicit = await configIn(path.join(dir, 'a'), { stateDir: '/var/lib/from-file' });
    const [issue] = await issuesOf(load(explicit, { HOME: dir, STATE_DIRECTORY: '/var/lib/files-sync' }));
    expect(issue).toEqual({
      path: 'STATE_DIRECTORY',
      message:
        "names the state directory /var/lib/files-sync, but the config's stateDir is /var/lib/from-file; one folder with two state dirs would be synced by two processes",
      fix: `set "stateDir": "/var/lib/files-sync" in ${explicit} (every command then agrees), or unset STATE_DIRECTORY (StateDirectory= in the systemd unit)`,
    });

    const implicit = await configIn(path.join(dir, 'b'), {});
    const issues = await issuesOf(load(implicit, { HOME: dir, FILES_SYNC_STATE_DIR: '/srv/state' }));
    expect(issues.map((i) => i.path)).toEqual(['FILES_SYNC_STATE_DIR']);
    expect(issues[0]?.message).toContain(
      `the config names no stateDir, so it is ${path.join(dir, 'b', '.files-sync', 'sync.config')}`,
    );
    expect(issues[0]?.fix).toContain(`set "stateDir": "/srv/state" in ${implicit}`);
  });

  it('--state-dir is an explicit choice for one command: the environment is not consulted', async () => {
    const dir = await makeTempDir();
    const file = await configIn(dir, { stateDir: './state' });
    const loaded = await load(file, { HOME: dir, STATE_DIRECTORY: '/elsewhere' }, { stateDir: '/copy' });
    expect(loaded.config.stateDir).toBe('/copy');
  });

  it('state left in the old env-based default is pointed at instead of starting afresh', async () => {
    const dir = await makeTempDir();
    const file = await configIn(path.join(dir, 'conf'), {});
    const legacy = path.join(dir, '.local', 'state', 'files-sync');
    await mkdir(legacy, { recursive: true });
    await writeFile(path.join(legacy, 'docs.manifest.json'), '{}');
    const [issue] = await issuesOf(load(file, { HOME: dir }));
    expect(issue?.path).toBe('stateDir');
    expect(issue?.message).toContain(`folder "docs" has its state in ${legacy}`);
    expect(issue?.fix).toBe(`add "stateDir": "${legacy}" to the config file to keep using it`);

    // Once the derived dir holds the folder's state, that one is used.
    const derived = path.join(dir, 'conf', '.files-sync', 'sync.config');
    await mkdir(derived, { recursive: true });
    await writeFile(path.join(derived, 'docs.manifest.json'), '{}');
    expect((await load(file, { HOME: dir })).config.stateDir).toBe(derived);
  });
});
