/** The `id` fast path without a daemon (src/cli/id-direct.ts) says exactly what the full command says, or leaves it to it. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { onCleanup } from '../helpers/cleanup.js';
import { tryDirectId } from '../../src/cli/id-direct.js';
import { buildProgram } from '../../src/cli/program.js';
import { Manifest } from '../../src/state/manifest.js';
import type { ManifestEntry } from '../../src/types.js';

interface Said {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs `fn` with stdout/stderr captured; the exit code is what it returns, else process.exitCode. */
async function capture(fn: () => Promise<number | undefined | void>): Promise<Said> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const before = process.exitCode;
  try {
    const returned = await fn();
    const code = returned ?? (typeof process.exitCode === 'number' ? process.exitCode : undefined);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = before;
  }
}

/** The full command (commander, the config schema), as `files-sync` runs it when the fast path declines. */
function full(args: string[]): Promise<Said> {
  return capture(async () => {
    process.exitCode = undefined;
    await (await buildProgram()).parseAsync(['node', 'files-sync', ...args]);
  });
}

function fast(args: string[]): Promise<Said> {
  return capture(() =>
    tryDirectId(args, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }),
  );
}

function entry(fileId: string, mimeType = 'application/pdf'): ManifestEntry {
  return {
    fileId,
    sha256: 'a'.repeat(64),
    size: 9,
    mtimeMs: 1_760_000_000_000,
    ino: 7,
    remoteName: 'x',
    mimeType,
    uploadedAt: '2026-05-14T12:00:00.000Z',
  };
}

/** A config and a lowdb state of 5,000 entries (several shards) with a pending upload and an old ID. */
async function fixture(config: Record<string, unknown> = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-id-direct-'));
  onCleanup(() => fs.rm(dir, { recursive: true, force: true }));
  const folder = path.join(dir, 'folder');
  await fs.mkdir(folder);
  const configPath = path.join(dir, 'sync.config.json');
  await fs.writeFile(
    configPath,
    JSON.stringify({ stateDir: 'state', folders: [{ name: 'docs', path: 'folder' }], ...config }),
  );
  const m = await Manifest.open(path.join(dir, 'state'), { name: 'docs', root: folder });
  for (let k = 0; k < 5000; k++) m.set(`d${k % 50}/f${k}.txt`, entry(`file_${k}`, 'text/plain'));
  m.set('report.pdf', entry('file_report'));
  m.set('edited.pdf', entry('file_edited_old'));
  m.addPendingUpload({
    path: 'edited.pdf',
    sha256: 'b',
    size: 1,
    remoteName: 'edited.pdf',
    startedAt: 'now',
  });
  m.addPendingUpload({ path: 'new.pdf', sha256: 'c', size: 1, remoteName: 'new.pdf', startedAt: 'now' });
  m.addPendingDelete({
    fileId: 'file_report_v1',
    path: 'report.pdf',
    reason: 'replaced',
    queuedAt: '2026-05-14T12:00:00.000Z',
    notBefore: '2026-05-15T12:00:00.000Z',
  });
  await m.snapshot();
  // A change after the snapshot lives only in the journal: the lookup must replay it.
  m.set('late.txt', entry('file_late', 'text/plain'));
  await m.close();
  return { dir, folder, configPath };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('files-sync id without a daemon: the fast path', () => {
  it('prints what the full command prints: found, --block, --json, pending, not synced, --wait', async () => {
    const { folder, configPath } = await fixture();
    const cases: string[][] = [
      [path.join(folder, 'report.pdf')],
      [path.join(folder, 'report.pdf'), '--block'],
      [path.join(folder, 'report.pdf'), '--json'],
      [path.join(folder, 'd7/f4957.txt'), '--json'],
      [path.join(folder, 'late.txt'), '--json', '--block'],
      [path.join(folder, 'edited.pdf'), '--json'],
      [path.join(folder, 'new.pdf')],
      [path.join(folder, 'missing.txt')],
      [path.join(folder, 'report.pdf'), '--wait', '5'],
      [path.join(folder, 'missing.txt'), '--wait=0'],
      [path.join(folder, 'report.pdf'), `--config=${configPath}`],
    ];
    for (const c of cases) {
      const args = ['id', ...c, ...(c.some((a) => a.startsWith('--config')) ? [] : ['-c', configPath])];
      const direct = await fast(args);
      expect(direct.code, args.join(' ')).not.toBeUndefined();
      expect(direct, args.join(' ')).toEqual(await full(args));
    }
    const json = await fast(['id', path.join(folder, 'report.pdf'), '--json', '-c', configPath]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      fileId: 'file_report',
      state: 'synced',
      previous: [{ fileId: 'file_report_v1', until: '2026-05-15T12:00:00.000Z' }],
    });
    expect((await fast(['id', path.join(folder, 'new.pdf'), '-c', configPath])).stderr).toMatch(
      /new\.pdf is not synced yet \(an upload is pending\) in folder "docs"/,
    );
  });

  it('reads the manifest when http.listen names a daemon that is not running (socket or --http)', async () => {
    const dir0 = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-id-sock-'));
    onCleanup(() => fs.rm(dir0, { recursive: true, force: true }));
    const { dir, folder, configPath } = await fixture({
      http: { listen: `unix:${path.join(dir0, 'api.sock')}` },
    });
    const target = path.join(folder, 'report.pdf');
    for (const args of [
      ['id', target, '-c', configPath],
      ['id', target, '-c', configPath, '--http', `unix:${path.join(dir, 'nobody.sock')}`],
    ]) {
      const direct = await fast(args);
      expect(direct).toMatchObject({ code: 0, stdout: 'file_report\n' });
      expect(direct).toEqual(await full(args));
    }
  });

  it('leaves anything unusual to the full command, which validates and explains', async () => {
    // PostgreSQL state is the full command's to read; the others are mistakes it reports.
    const { folder: pgFolder, configPath: pgConfig } = await fixture({
      state: { backend: 'postgres', url: 'postgres://db/x' },
    });
    expect(await fast(['id', path.join(pgFolder, 'report.pdf'), '-c', pgConfig])).toMatchObject({
      code: undefined,
      stdout: '',
      stderr: '',
    });
    const unusual: Array<Record<string, unknown>> = [
      { colour: 'blue' },
      { apiKey: 'sk-ant-not-here' },
      { api: { key: 'sk-ant-not-here' } },
      { folders: [{ name: 'Docs!', path: 'folder' }] },
      {
        folders: [
          { name: 'docs', path: 'folder' },
          { name: 'docs', path: 'other' },
        ],
      },
      {
        folders: [
          { name: 'docs', path: 'folder' },
          { name: 'inner', path: 'folder/sub' },
        ],
      },
      { http: { listen: 'not an address' } },
      { stateDir: 7 },
    ];
    for (const config of unusual) {
      const { folder, configPath } = await fixture(config);
      const args = ['id', path.join(folder, 'report.pdf'), '-c', configPath];
      expect(await fast(args), JSON.stringify(config)).toMatchObject({
        code: undefined,
        stdout: '',
        stderr: '',
      });
      expect((await full(args)).code, JSON.stringify(config)).not.toBe(0);
    }
    const { dir, folder, configPath } = await fixture();
    const declined = async (args: string[]) =>
      expect(await fast(args), args.join(' ')).toMatchObject({ code: undefined, stdout: '', stderr: '' });
    // Outside every folder, a folder without a manifest, a corrupt one, a flag it does not know.
    await declined(['id', path.join(dir, 'elsewhere.txt'), '-c', configPath]);
    await declined(['id', path.join(folder, 'report.pdf'), '-c', configPath, '--state-dir', dir]);
    await declined(['id', path.join(folder, 'report.pdf'), '-c', path.join(dir, 'absent.json')]);
    vi.stubEnv('FILES_SYNC_STATE_DIR', path.join(dir, 'other-state'));
    await declined(['id', path.join(folder, 'report.pdf'), '-c', configPath]);
    vi.unstubAllEnvs();
    await fs.writeFile(path.join(dir, 'state', 'docs.manifest.json'), '{"version": 3');
    await declined(['id', path.join(folder, 'report.pdf'), '-c', configPath]);
    const broken = await full(['id', path.join(folder, 'report.pdf'), '-c', configPath]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/corrupt/);
  });
});
