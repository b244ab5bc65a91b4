/** Flag mistakes of `run` and the promise of `sync --dry-run`: refused or harmless before anything changes. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import { makeProject, runCli } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';

it('run --http on a non-loopback address exits 78 before starting anything', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  const r = await runCli(['run', '-c', p.configPath, '--http', '0.0.0.0:9464'], { env: p.env });
  expect(r.code).toBe(78);
  expect(r.stderr).toMatch(/--http: .*loopback/i);
  expect(p.emulator.stats().requests).toBe(0);
});

it('sync --dry-run leaves the manifest file untouched', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
  await syncJson(p);
  const file = path.join(p.stateDir, 'docs.manifest.json');
  const before = await fs.readFile(file, 'utf8');
  await p.write('c.txt', 'new');
  await p.remove('a.txt');
  const dry = await syncJson(p, ['--dry-run']);
  expect(dry.code).toBe(0);
  expect(await fs.readFile(file, 'utf8')).toBe(before);
  expect(p.emulator.stats().uploadsCreated).toBe(2);
});

it('a key read from api.keyFile is refused with a clear error and never printed', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  const keyFile = path.join(p.dir, 'key');
  const wrong = 'sk-ant-from-a-key-file-that-must-not-leak-77';
  await fs.writeFile(keyFile, `${wrong}\n`, { mode: 0o600 });
  const config = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as { api: Record<string, unknown> };
  config.api.keyFile = keyFile;
  await fs.writeFile(p.configPath, JSON.stringify(config));
  const env = { ...p.env };
  delete env.ANTHROPIC_API_KEY;
  const r = await runCli(['sync', '-c', p.configPath, '--json'], { env });
  expect(r.code).toBe(1);
  expect(r.stdout + r.stderr).toMatch(/401|authentication/i);
  expect(r.stdout + r.stderr).not.toContain(wrong);
  expect(
    await fs.readFile(path.join(p.stateDir, 'docs.manifest.json'), 'utf8').catch(() => ''),
  ).not.toContain(wrong);
});
