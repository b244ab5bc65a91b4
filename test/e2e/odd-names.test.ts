/**
 * Awkward file names through the real CLI against the emulator (issue 10 F7, F8): names that are
 * not valid UTF-8 are reported one by one as such while the rest syncs; control characters in
 * paths are escaped in human output (`ls`, `id`, `verify`) and exact in `--json`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FilesClient } from '../../src/api/client.js';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { onCleanup } from '../helpers/cleanup.js';
import { makeProject, remoteNames, runCli, TEST_KEY } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';
import { waitFor } from '../helpers/wait.js';

const NEWLINE_NAME = 'two\nlines.txt';
const ESC_NAME = 'red\u001b[31m.txt';

describe('file names that are not valid UTF-8 (F7)', () => {
  it.runIf(process.platform === 'linux')(
    'reports each one as "not valid UTF-8; rename it" with its escaped name, and syncs every other file',
    async () => {
      const p = await makeProject({ files: { 'a.txt': 'a\n', 'sub/b.txt': 'b\n' } });
      const rawName = (bad: number): Buffer =>
        Buffer.concat([Buffer.from(`${p.folder}/bad`), Buffer.from([bad]), Buffer.from('.txt')]);
      // Both decode to "bad\uFFFD.txt": the old scan reported one vanished path for the two.
      await fs.writeFile(rawName(0xff), 'one\n');
      await fs.writeFile(rawName(0xfe), 'two\n');

      const run = await syncJson(p);
      const report = run.reports[0]!;
      expect(report.uploaded).toBe(2);
      expect(remoteNames(p)).toEqual(['a.txt', 'b.txt']);
      const detail = 'name is not valid UTF-8; rename it';
      expect(report.skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
        { path: 'bad\\xfe.txt', reason: 'invalid-name', detail },
        { path: 'bad\\xff.txt', reason: 'invalid-name', detail },
      ]);
      expect(report.failed).toEqual([]);

      const human = await runCli(['sync', '-c', p.configPath], { env: p.env });
      expect(human.stdout).toContain(`skipped bad\\xff.txt: invalid-name (${detail})`);
      expect(human.stdout).toContain(`skipped bad\\xfe.txt: invalid-name (${detail})`);
      expect(human.stdout).not.toContain('vanished');
    },
  );
});

describe('file names that are not valid UTF-8, while the daemon runs (F7)', () => {
  it.runIf(process.platform === 'linux')(
    'warns about one created under the watcher as not valid UTF-8, and keeps syncing the rest',
    async () => {
      const p = await makeProject({ files: { 'a.txt': 'a\n' } });
      const lines: Array<Record<string, unknown>> = [];
      const logger = pino(
        { level: 'info' },
        { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
      );
      const { config } = await loadConfig({ configPath: p.configPath, env: p.env });
      const client = new FilesClient({ apiKey: TEST_KEY, baseUrl: p.emulator.url, logger });
      const daemon = new Daemon({ config, configPath: p.configPath, client, logger, httpListen: null });
      onCleanup(() => daemon.stop());
      await daemon.start();
      await daemon.idle();

      await fs.writeFile(
        Buffer.concat([Buffer.from(`${p.folder}/late`), Buffer.from([0xff]), Buffer.from('.txt')]),
        'x',
      );
      await p.write('b.txt', 'b\n');
      await waitFor(() => p.emulator.files().some((f) => f.filename === 'b.txt'), {
        message: 'b.txt synced',
      });
      await waitFor(() => lines.some((l) => l.msg === 'file not synced' && l.reason === 'invalid-name'), {
        message: 'an invalid-name warning',
      });
      const warning = lines.find((l) => l.reason === 'invalid-name')!;
      expect(warning.detail).toBe('name is not valid UTF-8; rename it');
      expect(remoteNames(p)).toEqual(['a.txt', 'b.txt']);
    },
  );
});

describe('control characters in paths (F8)', () => {
  it('escapes a newline and an ESC in ls, id and verify output; --json keeps them exact', async () => {
    const p = await makeProject({ files: { 'plain.txt': 'p\n' } });
    await p.write(NEWLINE_NAME, 'n\n');
    await p.write(ESC_NAME, 'e\n');
    const run = await syncJson(p);
    expect(run.code, run.stderr).toBe(0);
    expect(run.reports[0]!.uploaded).toBe(3);

    const ls = await runCli(['ls', '-c', p.configPath], { env: p.env });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).not.toContain('\u001b');
    const lines = ls.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3); // one line per file: the newline did not split one
    expect(lines.map((l) => l.split('\t')[0]).sort()).toEqual([
      'plain.txt',
      'red\\e[31m.txt',
      'two\\nlines.txt',
    ]);

    const json = await runCli(['ls', '-c', p.configPath, '--json'], { env: p.env });
    const rows = JSON.parse(json.stdout) as Array<{ path: string; fileId: string }>;
    expect(rows.map((r) => r.path).sort()).toEqual([ESC_NAME, 'plain.txt', NEWLINE_NAME].sort());

    // `id` prints only the ID for such a path, and escapes it when saying it is not synced.
    const id = await runCli(['id', '-c', p.configPath, path.join(p.folder, NEWLINE_NAME)], { env: p.env });
    expect(id.stdout).toBe(`${rows.find((r) => r.path === NEWLINE_NAME)!.fileId}\n`);
    const missing = await runCli(['id', '-c', p.configPath, path.join(p.folder, 'not\u001b[2Jhere\n')], {
      env: p.env,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not\\e[2Jhere\\n is not synced');
    expect(missing.stderr).not.toContain('\u001b');

    await fs.rm(path.join(p.folder, ESC_NAME));
    await fs.rm(path.join(p.folder, NEWLINE_NAME));
    const verify = await runCli(['verify', '-c', p.configPath, '--local'], { env: p.env });
    expect(verify.code).toBe(1);
    expect(verify.stdout).not.toContain('\u001b');
    expect(verify.stdout).toMatch(/ red\\e\[31m\.txt /);
    expect(verify.stdout).toMatch(/ two\\nlines\.txt /);
  });
});
