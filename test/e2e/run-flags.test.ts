/** Flag mistakes, -v/-q, and the promise of `sync --dry-run`: refused or harmless before anything changes. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import { makeProject, runCli, spawnCli } from '../helpers/project.js';
import { onCleanup } from '../helpers/cleanup.js';
import { syncJson } from '../helpers/sync-cli.js';
import { parseLogLines, startDaemon, waitForSync } from './daemon-harness.js';

it('run --http on a non-loopback address without a token exits 78 before starting anything', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  const r = await runCli(['run', '-c', p.configPath, '--http', '0.0.0.0:9464'], { env: p.env });
  expect(r.code).toBe(78);
  expect(r.stderr).toMatch(/--http: .*non-loopback host needs a bearer token/i);
  expect(p.emulator.stats().requests).toBe(0);
});

/** Every state file's name and content (head, shards, journals), to compare before and after. */
async function stateFiles(stateDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const sub of ['', 'docs.manifest.d']) {
    for (const name of await fs.readdir(path.join(stateDir, sub)).catch(() => [] as string[])) {
      const full = path.join(stateDir, sub, name);
      if ((await fs.stat(full)).isFile()) out[path.join(sub, name)] = await fs.readFile(full, 'utf8');
    }
  }
  return out;
}

it('sync --dry-run leaves the manifest files untouched', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
  await syncJson(p);
  const before = await stateFiles(p.stateDir);
  expect(Object.keys(before)).toContain('docs.manifest.json');
  await p.write('c.txt', 'new');
  await p.remove('a.txt');
  const dry = await syncJson(p, ['--dry-run']);
  expect(dry.code).toBe(0);
  const after = await stateFiles(p.stateDir);
  // The lock file comes and goes; the manifest's files must be byte for byte the same.
  for (const files of [before, after]) delete files['files-sync.lock'];
  expect(after).toEqual(before);
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
  expect(JSON.stringify(await stateFiles(p.stateDir))).not.toContain(wrong);
});

it('bad flag values exit 64 naming the flag and the accepted values, never NaN, before any request', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  const cases: Array<[string[], RegExp]> = [
    [
      ['sync', '--concurrency', 'lots'],
      /^files-sync: --concurrency: expected a whole number from 1 to 64, got "lots"/,
    ],
    [['sync', '--concurrency', '0'], /--concurrency: must be a whole number between 1 and 64, got 0/],
    [
      ['run', '--log-level', 'loud'],
      /^files-sync: --log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/,
    ],
    [['-v', 'sync', '-q'], /^files-sync: -v\/--verbose and -q\/--quiet contradict each other/],
    [['run', '-q', '--log-level', 'debug'], /-q\/--quiet and --log-level contradict each other/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli([...args, '-c', p.configPath], { env: p.env });
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(64);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/NaN|Error:|\n\s+at /);
  }
  expect(p.emulator.stats().requests).toBe(0);
});

it('-v shows debug lines and -q only warnings (run: JSON on stdout)', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
  const verbose = await startDaemon(p, ['-v']);
  await verbose.waitForLog((l) => l.level === 'debug', 'a debug line');
  expect(verbose.logs()[0]).toMatchObject({ level: 'info', msg: 'files-sync starting' });
  await waitForSync(p, { what: 'the sync of run -v' });
  expect((await verbose.stop('SIGTERM')).code).toBe(0);

  await p.write('c.txt', 'c');
  const quiet = spawnCli(['-q', 'run', '-c', p.configPath], { env: p.env });
  let out = '';
  quiet.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => quiet.on('close', (code) => resolve(code)));
  onCleanup(async () => {
    if (quiet.exitCode === null && quiet.signalCode === null) quiet.kill('SIGKILL');
  });
  await waitForSync(p, { what: 'the sync of run -q' });
  quiet.kill('SIGTERM');
  expect(await exited).toBe(0);
  // Not even the start-up line: -q leaves warnings and errors only.
  expect(parseLogLines(out).filter((l) => l.level !== 'warn' && l.level !== 'error')).toEqual([]);
});

it('ls and id before the first sync say "not synced yet" and how to fix it, not a class name', async () => {
  const p = await makeProject({ files: { 'a.txt': 'a' } });
  for (const args of [['ls'], ['id', path.join(p.folder, 'a.txt')]]) {
    const r = await runCli([...args, '-c', p.configPath], { env: p.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `files-sync: folder "docs" is not synced yet (no manifest at ${path.join(p.stateDir, 'docs.manifest.json')}). Fix: run \`files-sync sync\` or start the daemon (\`files-sync run\`)\n`,
    );
  }
});
