/**
 * Bad input at the CLI: configuration mistakes stop before anything is touched (exit 78, no
 * request, no state dir); a refused key fails clearly; awkward local files (FIFO, symlink loop,
 * 600 MB sparse file, odd names, a file turned into a directory, a file deleted mid-upload, an
 * emptied folder) each get a clear report while every other file syncs.
 * The full table of config mistakes and their messages is test/config/mistakes.test.ts; the rows
 * here are one per kind of mistake, checked end to end.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, remoteNames, runCli, spawnCli } from '../helpers/project.js';
import { expectMirrored } from '../helpers/mirror.js';
import { waitFor } from '../helpers/wait.js';
import { runLimited, syncJson } from './support.js';

interface CliMistake {
  name: string;
  /** Merged over the project's valid config; `raw` replaces the file text instead. */
  config?: Record<string, unknown>;
  raw?: string;
  env?: Record<string, string>;
  args?: string[];
  /** What stderr must name (the field, variable or flag). */
  names: RegExp;
  /** Exit code: 78 (configuration) unless given; a bad flag value is a usage error, 64. */
  code?: number;
}

const mistakes: CliMistake[] = [
  { name: 'unknown key', config: { foldrs: [] }, names: /foldrs.*did you mean "folders"/ },
  { name: 'wrong type', config: { api: { concurrency: '4' } }, names: /api\.concurrency/ },
  { name: 'out of range', config: { watch: { debounceMs: -1 } }, names: /watch\.debounceMs/ },
  { name: 'empty folders list', config: { folders: [] }, names: /folders: needs at least one folder/ },
  {
    name: 'folder missing on disk',
    config: { folders: [{ name: 'docs', path: '/nonexistent/files-sync-test' }] },
    names: /folder does not exist/,
  },
  {
    name: 'bad folder name',
    config: { folders: [{ name: 'My Docs', path: '.' }] },
    names: /folders\[0\]\.name/,
  },
  {
    name: 'invalid glob',
    config: { folders: [{ name: 'docs', path: '.', include: ['[abc'] }] },
    names: /invalid glob pattern/,
  },
  {
    name: 'key in the config file',
    config: { apiKey: 'sk-ant-api03-abcdefghijklmnop' },
    names: /does not belong in the config file/,
  },
  { name: 'JSON syntax error', raw: '{\n  "folders": [],\n}\n', names: /trailing comma/ },
  { name: 'empty file', raw: '  \n', names: /the file is empty/ },
  { name: 'bad env override', env: { FILES_SYNC_CONCURRENCY: 'lots' }, names: /FILES_SYNC_CONCURRENCY/ },
  { name: 'bad flag', args: ['--concurrency', '99'], names: /--concurrency/, code: 64 },
  { name: 'unknown --folder', args: ['--folder', 'doc'], names: /unknown folder "doc"/, code: 64 },
  { name: 'missing API key', env: { ANTHROPIC_API_KEY: '' }, names: /ANTHROPIC_API_KEY/ },
];

describe('configuration mistakes at the CLI', () => {
  it('each exits 78 (64 for a flag value) naming the problem, with no request sent and no state dir created', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a' } });
    const p = project;
    const valid = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as Record<string, unknown>;
    // Each row gets its own config file and state dir, next to the one valid project.
    const results: Array<{ row: CliMistake; code: number | null; stderr: string; stateDirExists: boolean }> =
      [];
    await runLimited(
      mistakes.map((row, i) => async () => {
        const stateDir = path.join(p.dir, `state-${i}`);
        const configPath = path.join(p.dir, `mistake-${i}.json`);
        const folders = row.config?.folders ?? [{ name: 'docs', path: p.folder }];
        const text = row.raw ?? JSON.stringify({ ...valid, stateDir, ...row.config, folders });
        await fs.writeFile(configPath, text);
        const env = { ...p.env, ...row.env };
        if (row.env?.ANTHROPIC_API_KEY === '') delete env.ANTHROPIC_API_KEY;
        const r = await runCli(['sync', '-c', configPath, ...(row.args ?? [])], { env });
        const stateDirExists = await fs.access(stateDir).then(
          () => true,
          () => false,
        );
        results.push({ row, code: r.code, stderr: r.stderr, stateDirExists });
      }),
      4,
    );
    for (const { row, code, stderr, stateDirExists } of results) {
      expect({ name: row.name, code }).toEqual({ name: row.name, code: row.code ?? 78 });
      expect(stderr, row.name).toMatch(row.names);
      expect(stderr, row.name).toMatch(/Fix:/);
      expect(stateDirExists, row.name).toBe(false);
    }
    expect(p.emulator.stats().requests).toBe(0);
    await expect(fs.access(p.stateDir)).rejects.toThrow();
    // About 20 CLI start-ups, 4 at a time: a loaded 2-core machine needs more than the default minute.
  }, 240_000);

  it('a refused key (401) fails once, clearly, without the key, and creates nothing remote', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
    // Two new 400 MB files: the refusal stops the pass before either is hashed to the end.
    for (const name of ['big1.bin', 'big2.bin']) {
      const fh = await fs.open(path.join(project.folder, name), 'w');
      await fh.truncate(400 * 1024 * 1024);
      await fh.close();
    }
    const wrong = 'sk-ant-wrong-0123456789-must-not-leak';
    const r = await runCli(['sync', '-c', project.configPath, '--json'], {
      env: { ...project.env, ANTHROPIC_API_KEY: wrong },
    });
    expect(r.code).toBe(1);
    const [report] = JSON.parse(r.stdout) as Array<{
      status: string;
      error?: string;
      uploaded: number;
      hashed: number;
    }>;
    expect(report).toMatchObject({ status: 'failed', uploaded: 0 });
    expect(report!.error).toMatch(/401|authentication|invalid x-api-key/i);
    expect(report!.hashed).toBeLessThanOrEqual(2);
    // The pass stopped on the refusal; the folder is fine and is not reported otherwise.
    expect(r.stdout + r.stderr).not.toMatch(/folder unavailable/);
    expect(r.stdout + r.stderr).not.toContain(wrong);
    expect(project.emulator.files()).toEqual([]);
    // One listing attempt, not one failed upload per file.
    expect(project.emulator.stats().byRoute['POST /v1/files'] ?? 0).toBe(0);
  });
});

describe('awkward local files', () => {
  it('FIFO, symlink loop, 600 MB sparse file and odd names: each reported, everything else syncs', async () => {
    const project = await makeProject({
      files: {
        'plain.txt': 'plain',
        'with space/ünïcödé ✓.txt': 'unicode',
        'name with\nnewline.txt': 'newline',
        'tab\there.md': 'tab',
        'deep/a/b/c/d/e/f/g/h.txt': 'deep',
      },
      config: { folders: [] },
    });
    const p = project;
    // followSymlinks on, so the loop is followed (and caught) rather than skipped as a symlink.
    const config = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(
      p.configPath,
      JSON.stringify({ ...config, folders: [{ name: 'docs', path: p.folder, followSymlinks: true }] }),
    );
    execFileSync('mkfifo', [path.join(p.folder, 'pipe')]);
    await fs.mkdir(path.join(p.folder, 'loop'));
    await fs.symlink('..', path.join(p.folder, 'loop', 'up'));
    await fs.symlink('self-b', path.join(p.folder, 'self-a'));
    await fs.symlink('self-a', path.join(p.folder, 'self-b'));
    const fh = await fs.open(path.join(p.folder, 'huge.iso'), 'w');
    await fh.truncate(600 * 1024 * 1024);
    await fh.close();

    const r = await syncJson(p);
    // F5: files left unmirrored (too large, symlink loops) make the run exit 1, counted per reason.
    expect(r.code).toBe(1);
    const report = r.reports[0]!;
    expect(report.failed).toEqual([]);
    expect((report as { notMirrored?: unknown }).notMirrored).toEqual(
      expect.arrayContaining([
        { reason: 'too-large', count: 1 },
        { reason: 'symlink-loop', count: expect.any(Number) as number },
      ]),
    );
    const reasons = Object.fromEntries(report.skipped.map((s) => [s.path, s.reason]));
    expect(reasons).toMatchObject({
      pipe: 'special',
      'huge.iso': 'too-large',
      'self-a': 'symlink-loop',
      'self-b': 'symlink-loop',
    });
    expect(report.skipped.some((s) => s.path.startsWith('loop/up') && s.reason === 'symlink-loop')).toBe(
      true,
    );
    expect(report.uploaded).toBe(5);
    const names = remoteNames(p);
    // Control characters are not allowed in API filenames: replaced, never refused.
    expect(names).toEqual(
      ['h.txt', 'name with_newline.txt', 'plain.txt', 'tab_here.md', 'ünïcödé ✓.txt'].sort(),
    );
    await expectMirrored(p, { ignore: (rel) => rel === 'huge.iso' });

    const human = await runCli(['sync', '-c', p.configPath], { env: p.env });
    expect(human.stdout).toMatch(/skipped huge\.iso: too-large/);
    expect(human.stdout).toMatch(/skipped pipe: special/);
    expect(human.stdout).toMatch(/symlink-loop/);
  });

  it('a file replaced by a directory: the old copy is deleted, the new files upload', async () => {
    const project = await makeProject({
      files: { swap: 'was a file', 'keep.txt': 'k', 'other.txt': 'o', 'more.txt': 'm' },
    });
    expect((await syncJson(project)).code).toBe(0);
    await fs.rm(path.join(project.folder, 'swap'));
    await project.write('swap/inner.txt', 'now a directory');
    const r = await syncJson(project);
    expect(r.code).toBe(0);
    expect(r.reports[0]).toMatchObject({ uploaded: 1, deleted: 1, failed: [] });
    await expectMirrored(project);
  });

  it('a 400 MB file deleted while it uploads: reported as changed, no copy left, the rest syncs', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
    const p = project;
    const big = path.join(p.folder, 'big.bin');
    const fh = await fs.open(big, 'w');
    await fh.truncate(400 * 1024 * 1024);
    await fh.close();
    const child = spawnCli(['sync', '-c', p.configPath, '--json'], { env: p.env });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Three uploads started: big.bin's request is in, and its 400 MB body is still on its way.
    await waitFor(() => (p.emulator.stats().byRoute['POST /v1/files'] ?? 0) >= 3, {
      timeoutMs: 60_000,
      intervalMs: 2,
      message: "big.bin's upload",
    });
    await fs.rm(big);
    expect(await exited).toBe(0);
    const [report] = JSON.parse(stdout) as Array<{
      uploaded: number;
      failed: unknown[];
      skipped: Array<{ path: string; reason: string }>;
    }>;
    expect(report!.failed).toEqual([]);
    expect(report!.skipped).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'big.bin', reason: 'changed-during-upload' })]),
    );
    expect(remoteNames(p)).toEqual(['a.txt', 'b.txt']);
    await expectMirrored(p);
  });

  it('an emptied folder holds every delete, says how to release them, and loses nothing', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b', 'c/d.txt': 'd' } });
    expect((await syncJson(project)).code).toBe(0);
    await fs.rm(path.join(project.folder, 'a.txt'));
    await fs.rm(path.join(project.folder, 'b.txt'));
    await fs.rm(path.join(project.folder, 'c'), { recursive: true });
    const r = await syncJson(project);
    expect(r.reports[0]).toMatchObject({ deleted: 0, heldDeletes: 3 });
    expect(r.reports[0]!.heldReason).toMatch(/--allow-mass-delete/);
    expect(project.emulator.files()).toHaveLength(3);
  });
});
