import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  defaultInitConfigPath,
  folderPathForConfig,
  registerInitCommand,
  writeStarterConfig,
} from '../../src/cli/init.js';
import { CliExit } from '../../src/cli/common.js';
import { loadConfig } from '../../src/config/load.js';
import { CLI_ENTRY, REPO_ROOT, TSX_LOADER, type CliResult } from '../helpers/project.js';
import { renderConfigJsonSchema } from '../../src/config/schema.js';
import { makeTempDir } from './tmp.js';

/** A program with only `init`, its output captured instead of printed. */
function program(): { cli: Command; output: () => string } {
  let out = '';
  const cli = new Command('files-sync')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  registerInitCommand(cli);
  return { cli, output: () => out };
}

describe('files-sync init', () => {
  it('writes a starter config that loads, with $schema and one folder, and prints next steps', async () => {
    const dir = await makeTempDir();
    const folder = path.join(dir, 'My Contracts');
    await mkdir(folder);
    const file = path.join(dir, 'conf', 'sync.config.json');
    const { cli, output } = program();
    await cli.parseAsync(['init', '-c', file, '--path', folder], { from: 'user' });

    const written = JSON.parse(await readFile(file, 'utf8')) as {
      $schema: string;
      stateDir: string;
      folders: unknown[];
    };
    expect(written.$schema).toBe('./sync.config.schema.json');
    // Explicit and absolute, so the service and an admin's shell agree on it.
    expect(written.stateDir).toBe(path.join(dir, 'conf', '.files-sync', 'sync.config'));
    expect(written.folders).toHaveLength(1);
    expect(await readFile(path.join(dir, 'conf', 'sync.config.schema.json'), 'utf8')).toBe(
      renderConfigJsonSchema(),
    );

    const { config } = await loadConfig({ configPath: file, env: { HOME: dir } });
    expect(config.folders).toMatchObject([{ name: 'my-contracts', path: folder }]);
    expect(output()).toContain('Next steps');
    expect(output()).toContain(`files-sync run -c ${file}`);
    expect(output()).toContain('ANTHROPIC_API_KEY');
    expect(output()).not.toContain('does not exist yet');
  });

  it('refuses to overwrite an existing config without --force (exit 73), replaces it with --force', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'sync.config.json');
    await writeFile(file, '{"mine": true}\n');
    const err = await writeStarterConfig({ configPath: file, folderPath: dir, name: 'docs' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliExit);
    expect((err as CliExit).exitCode).toBe(73);
    expect((err as CliExit).message).toBe(
      `files-sync: ${file} already exists; not overwritten. Fix: pass --force to replace it, or -c <file> to write elsewhere`,
    );
    expect(await readFile(file, 'utf8')).toBe('{"mine": true}\n');

    await program().cli.parseAsync(['init', '-c', file, '--path', dir, '--name', 'docs', '--force'], {
      from: 'user',
    });
    const { config } = await loadConfig({ configPath: file, env: { HOME: dir } });
    expect(config.folders.map((f) => [f.name, f.path])).toEqual([['docs', dir]]);
  });

  it('writes the config even if the folder does not exist yet, and says so', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'sync.config.json');
    const { cli, output } = program();
    await cli.parseAsync(['init', '-c', file, '--path', path.join(dir, 'later')], { from: 'user' });
    expect(output()).toContain('does not exist yet');
    const { config } = await loadConfig({ configPath: file, env: { HOME: dir }, checkPaths: false });
    expect(config.folders[0]?.path).toBe(path.join(dir, 'later'));
  });

  it('rejects an invalid --name with a suggestion (exit 64)', async () => {
    const dir = await makeTempDir();
    const err = await writeStarterConfig({
      configPath: path.join(dir, 'c.json'),
      folderPath: dir,
      name: 'My Docs',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliExit);
    expect((err as CliExit).exitCode).toBe(64);
    expect((err as CliExit).message).toMatch(
      /^files-sync: --name: invalid folder name "My Docs".*Fix: use e\.g\. --name my-docs$/,
    );
  });

  it('--http writes http.listen (loopback only; anything else is a usage error, 64)', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'c.json');
    await writeStarterConfig({
      configPath: file,
      folderPath: dir,
      name: 'docs',
      httpListen: '127.0.0.1:9464',
    });
    const { config } = await loadConfig({ configPath: file, env: { HOME: dir } });
    expect(config.http.listen).toBe('127.0.0.1:9464');
    const err = await writeStarterConfig({
      configPath: path.join(dir, 'd.json'),
      folderPath: dir,
      httpListen: '0.0.0.0:9464',
    }).catch((e: unknown) => e);
    expect((err as CliExit).exitCode).toBe(64);
    expect((err as CliExit).message).toMatch(/^files-sync: --http: .*loopback/);
  });

  it('has --help with examples', async () => {
    const { cli, output } = program();
    const err = await cli.parseAsync(['init', '--help'], { from: 'user' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
    expect(output()).toContain('Examples:');
    expect(output()).toContain('--force');
    expect(output()).toContain('--path <folder>');
  });

  it('writes folder paths relative to the config when inside its directory', () => {
    expect(folderPathForConfig('/etc/fs', '/etc/fs')).toBe('.');
    expect(folderPathForConfig('/etc/fs', '/etc/fs/docs/a')).toBe('./docs/a');
    expect(folderPathForConfig('/etc/fs', '/srv/docs')).toBe('/srv/docs');
    expect(folderPathForConfig('/etc/fs', '/etc/fs-other')).toBe('/etc/fs-other');
    expect(folderPathForConfig('/etc/fs', '/etc/fs/..hidden')).toBe('./..hidden');
  });

  it('defaults to ~/.config/files-sync/config.json ($XDG_CONFIG_HOME), and /etc/files-sync/config.json for root', () => {
    expect(defaultInitConfigPath({ HOME: '/home/ann' }, 1000)).toBe(
      '/home/ann/.config/files-sync/config.json',
    );
    expect(defaultInitConfigPath({ HOME: '/home/ann', XDG_CONFIG_HOME: '/cfg' }, 1000)).toBe(
      '/cfg/files-sync/config.json',
    );
    expect(defaultInitConfigPath({ HOME: '/root' }, 0)).toBe('/etc/files-sync/config.json');
  });
});

/** Runs the real CLI; as root, drops to nobody so that "permission denied" can happen. */
function runInit(args: string[], env: NodeJS.ProcessEnv, asNobody: boolean): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, 'init', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('files-sync init as a command: exit codes and one-line errors', () => {
  const root = process.getuid?.() === 0;

  it('writes the default config under HOME, then: exists -> 73, permission denied -> 77, bad --name -> 64', async () => {
    const home = await makeTempDir();
    const folder = path.join(home, 'docs');
    await mkdir(folder);
    if (root) await chown(home, 65534, 65534);
    const env = { HOME: home };

    const first = await runInit(['--path', folder], env, root);
    expect(first.code, first.stderr).toBe(0);
    const written = path.join(home, '.config', 'files-sync', 'config.json');
    const config = JSON.parse(await readFile(written, 'utf8')) as { stateDir: string };
    expect(config.stateDir).toBe(path.join(home, '.local', 'state', 'files-sync'));

    const again = await runInit(['--path', folder], env, root);
    expect(again.code).toBe(73);
    expect(again.stderr).toBe(
      `files-sync: ${written} already exists; not overwritten. Fix: pass --force to replace it, or -c <file> to write elsewhere\n`,
    );

    const locked = path.join(await makeTempDir(), 'locked');
    await mkdir(locked);
    await chmod(locked, 0o555);
    const denied = await runInit(['--path', folder, '-c', path.join(locked, 'c.json')], env, root);
    expect(denied.code).toBe(77);
    expect(denied.stderr).toMatch(/^files-sync: cannot write .*: permission denied \(EACCES\)\. Fix: .*\n$/);

    const badName = await runInit(
      ['--path', folder, '--name', 'Bad Name', '-c', path.join(home, 'x.json')],
      env,
      root,
    );
    expect(badName.code).toBe(64);
    expect(badName.stderr.trim().split('\n')).toHaveLength(1);
    expect(badName.stderr).toContain('--name');
  });
});
