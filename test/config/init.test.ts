import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { folderPathForConfig, registerInitCommand } from '../../src/cli/init.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
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

    const written = JSON.parse(await readFile(file, 'utf8')) as { $schema: string; folders: unknown[] };
    expect(written.$schema).toBe('./sync.config.schema.json');
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

  it('refuses to overwrite an existing config without --force', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'sync.config.json');
    await writeFile(file, '{"mine": true}\n');
    const { cli } = program();
    const err = await cli
      .parseAsync(['init', '-c', file, '--path', dir, '--name', 'docs'], { from: 'user' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]).toMatchObject({
      path: file,
      message: 'already exists; not overwritten',
    });
    expect((err as ConfigError).issues[0]?.fix).toContain('--force');
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

  it('rejects an invalid --name with a suggestion', async () => {
    const dir = await makeTempDir();
    const { cli } = program();
    const err = await cli
      .parseAsync(['init', '-c', path.join(dir, 'c.json'), '--path', dir, '--name', 'My Docs'], {
        from: 'user',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]).toMatchObject({ path: '--name', fix: 'use e.g. --name my-docs' });
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
});
