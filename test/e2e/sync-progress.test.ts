/**
 * `files-sync sync` as a person runs it: on a terminal (a pseudo-TTY made by util-linux `script`)
 * a progress line with files and bytes and no JSON; a dry run's list with sizes; Ctrl-C ends it with what was done and exit
 * 130, and a rerun finishes the job without uploading anything twice.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_ENTRY, makeProject, runCli, spawnCli, TSX_LOADER } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';
import { waitFor } from '../helpers/wait.js';

/** Quotes one argument for `sh -c`. */
const sh = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

function runOnTty(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const command = [process.execPath, '--import', TSX_LOADER, CLI_ENTRY, ...args].map(sh).join(' ');
  return new Promise((resolve) => {
    // -e: script exits with the command's code; -q: no "Script started" banner.
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...env, COLUMNS: '200', TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

const files = Object.fromEntries(
  Array.from({ length: 40 }, (_, i) => [`f${i}.txt`, `${'x'.repeat(2000)} ${i}`]),
);

describe('sync for a person at a terminal', () => {
  it('shows phases with files and bytes on a TTY, no JSON, then the summary', async () => {
    const p = await makeProject({ files, emulator: { faults: { latencyMs: 30 } } });
    const r = await runOnTty(['sync', '-c', p.configPath], p.env);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/docs: scanning\.\.\./);
    expect(r.out).toMatch(/docs: hashing \[[#.]+\] \d+\/40 files, [\d.]+ (B|KiB)\/78\.\d KiB/);
    expect(r.out).toMatch(/docs: uploading \[[#.]+\] \d+\/40 files, [\d.]+ (B|KiB)\/78\.\d KiB/);
    expect(r.out).toMatch(/docs: uploaded 40, replaced 0/);
    expect(r.out).not.toContain('{"level"');
  });

  it('a dry run lists uploads with human sizes and says how to see a cut list whole', async () => {
    const many = Object.fromEntries(Array.from({ length: 55 }, (_, i) => [`m${i}.txt`, 'y'.repeat(1536)]));
    const p = await makeProject({ files: many });
    const r = await runCli(['sync', '-c', p.configPath, '--dry-run'], { env: p.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}upload m\d+\.txt \(1\.5 KiB\)$/m);
    expect(r.stdout).toContain('  ... and 5 more (all of them: files-sync sync --dry-run --json)\n');
  });

  it(
    'Ctrl-C stops the sync with what was done and exit 130; a rerun continues',
    { timeout: 180_000 },
    async () => {
      const p = await makeProject({
        files,
        config: { api: { concurrency: 1 } },
        emulator: { faults: { latencyMs: 150 } },
      });
      const child = spawnCli(['sync', '-c', p.configPath, '--json'], { env: p.env });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await waitFor(() => stderr.includes('"msg":"uploaded"'), {
        message: () => `a first upload\n${stderr}`,
      });
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toMatch(
        /files-sync: interrupted after \d+ files synced \([\d.]+ KiB uploaded\); what finished is recorded\. Run `files-sync sync` again to continue\./,
      );
      // One line says it: not one "operation failed" per aborted file.
      expect(stderr).not.toMatch(/operation failed/);
      expect(p.emulator.files().length).toBeLessThan(40);

      const rerun = await syncJson(p);
      expect(rerun.code).toBe(0);
      expect(p.emulator.files()).toHaveLength(40);
    },
  );
});
