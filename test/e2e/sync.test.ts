/**
 * `files-sync sync` end to end: the CLI as a child process, a real temp folder, the emulator over
 * real HTTP. What a user checks: what went up, what the IDs are, that a second run does nothing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli, TEST_KEY, type Project } from '../helpers/project.js';
import { expectMirrored } from '../helpers/mirror.js';
import { openManifest } from '../../src/index.js';
import { syncJson } from '../helpers/sync-cli.js';

/** Runs `sync --json` on the project (extra flags after it). */
function sync(p: Project, ...args: string[]) {
  return syncJson(p, args);
}

describe('files-sync sync', () => {
  it('uploads a folder, then a second run uploads and hashes nothing', async () => {
    const project = await makeProject({
      files: {
        'a.txt': 'alpha',
        'docs/b.md': '# b',
        'contracts/2026/acme.pdf': '%PDF-1.4 fake',
        'with space/ünïcode name.txt': 'u',
      },
    });
    const first = await sync(project);
    expect(first.code).toBe(0);
    expect(first.reports[0]).toMatchObject({ uploaded: 4, replaced: 0, deleted: 0, hashed: 4, failed: [] });
    await expectMirrored(project);
    const pdf = project.emulator.files().find((f) => f.filename === 'acme.pdf');
    expect(pdf?.mimeType).toBe('application/pdf');

    const second = await sync(project);
    expect(second.code).toBe(0);
    expect(second.reports[0]).toMatchObject({
      uploaded: 0,
      replaced: 0,
      deleted: 0,
      moved: 0,
      hashed: 0,
      unchanged: 4,
    });
    expect(project.emulator.stats().uploadsCreated).toBe(4);
  });

  it('edits, removals and renames produce exactly those operations', async () => {
    const project = await makeProject({
      files: { 'keep.txt': 'k', 'edit.txt': 'v1', 'gone.txt': 'g', 'old/name.txt': 'same content' },
    });
    await sync(project);
    const before = await openManifest(project.stateDir, 'docs');
    const oldEditId = before.get('edit.txt')!.fileId;
    const movedId = before.get('old/name.txt')!.fileId;

    await project.write('edit.txt', 'v2 is longer');
    await project.remove('gone.txt');
    await fs.mkdir(path.join(project.folder, 'new'), { recursive: true });
    await fs.rename(path.join(project.folder, 'old/name.txt'), path.join(project.folder, 'new/name.txt'));

    const dry = await runCli(['sync', '-c', project.configPath, '--dry-run'], { env: project.env });
    expect(dry.stdout).toMatch(/replace edit\.txt \(12 B\)/);
    expect(dry.stdout).toMatch(/move old\/name\.txt -> new\/name\.txt/);
    expect(dry.stdout).toMatch(/delete gone\.txt/);
    expect(project.emulator.stats().uploadsCreated).toBe(4);

    const r = await sync(project);
    expect(r.reports[0]).toMatchObject({
      uploaded: 0,
      replaced: 1,
      deleted: 1,
      moved: 1,
      hashed: 2,
      failed: [],
    });
    const after = await openManifest(project.stateDir, 'docs');
    expect(after.get('new/name.txt')!.fileId).toBe(movedId);
    expect(after.get('edit.txt')!.fileId).not.toBe(oldEditId);
    expect(project.emulator.files().some((f) => f.id === oldEditId)).toBe(false);
    await expectMirrored(project);
  });

  it('`id` answers for every synced file, by absolute or cwd-relative path; exit 1 when not synced', async () => {
    const project = await makeProject({ files: { 'contracts/2026/acme.pdf': 'pdf', 'b.txt': 'b' } });
    await sync(project);
    const m = await openManifest(project.stateDir, 'docs');
    const abs = await runCli(
      ['id', '-c', project.configPath, path.join(project.folder, 'contracts/2026/acme.pdf')],
      { env: project.env },
    );
    expect(abs.code).toBe(0);
    expect(abs.stdout).toBe(`${m.get('contracts/2026/acme.pdf')!.fileId}\n`);
    const rel = await runCli(['id', '-c', project.configPath, '2026/acme.pdf'], {
      env: project.env,
      cwd: path.join(project.folder, 'contracts'),
    });
    expect(rel.stdout.trim()).toBe(m.get('contracts/2026/acme.pdf')!.fileId);
    await project.write('new.txt', 'not yet');
    const missing = await runCli(['id', '-c', project.configPath, path.join(project.folder, 'new.txt')], {
      env: project.env,
    });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/new\.txt is not synced/);

    const ls = await runCli(['ls', '-c', project.configPath, '--json'], { env: project.env });
    const rows = JSON.parse(ls.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual(
      expect.objectContaining({
        path: 'b.txt',
        fileId: m.get('b.txt')!.fileId,
        sha256: expect.any(String),
        size: 1,
        uploadedAt: expect.any(String),
      }),
    );
  });

  it('holds deletes when the folder is emptied, and releases them with --allow-mass-delete', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' } });
    await sync(project);
    for (const f of ['a.txt', 'b.txt', 'c.txt']) await project.remove(f);
    const held = await sync(project);
    expect(held.reports[0]).toMatchObject({ deleted: 0, heldDeletes: 3 });
    expect(project.emulator.files()).toHaveLength(3);
    const human = await runCli(['sync', '-c', project.configPath], { env: project.env });
    expect(human.stdout).toMatch(/held 3 deletes: the folder is empty .*--allow-mass-delete/);

    const released = await sync(project, '--allow-mass-delete');
    expect(released.reports[0]).toMatchObject({ deleted: 3, heldDeletes: 0 });
    expect(project.emulator.files()).toHaveLength(0);
  });

  it('holds deletes over safety.maxDeletes', async () => {
    const files = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}.txt`, `content ${i}`]));
    const project = await makeProject({
      files,
      config: { safety: { maxDeletes: 2, maxDeletePercent: 100 } },
    });
    await sync(project);
    for (let i = 0; i < 3; i++) await project.remove(`f${i}.txt`);
    const r = await sync(project);
    expect(r.reports[0]).toMatchObject({ deleted: 0, heldDeletes: 3 });
    expect(project.emulator.files()).toHaveLength(8);
  });

  it('a missing folder root deletes nothing and exits non-zero', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a' } });
    await sync(project);
    await fs.rename(project.folder, `${project.folder}.away`);
    const r = await runCli(['sync', '-c', project.configPath, '--json'], { env: project.env });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/folder/);
    expect(project.emulator.files()).toHaveLength(1);
    await fs.rename(`${project.folder}.away`, project.folder);
  });

  it('counts remote files it does not manage and never touches them; re-uploads a copy someone deleted', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a', 'b.txt': 'b' } });
    const foreign = project.emulator.addFile({ filename: 'a.txt', sizeBytes: 1 });
    await sync(project);
    const m = await openManifest(project.stateDir, 'docs');
    const bId = m.get('b.txt')!.fileId;
    await fetch(`${project.emulator.url}/v1/files/${bId}`, {
      method: 'DELETE',
      headers: {
        'x-api-key': TEST_KEY,
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'files-api-2025-04-14',
      },
    });
    const r = await sync(project);
    expect(r.reports[0]).toMatchObject({ uploaded: 1, unmanagedRemote: 1 });
    expect(project.emulator.files().some((f) => f.id === foreign.id)).toBe(true);
    await expectMirrored(project, { unmanaged: 1 });
  });

  it('reports and skips files the API refuses, syncs the rest, and exits 1 (a file is not mirrored)', async () => {
    const project = await makeProject({
      files: { 'small.txt': 'ok', 'big.bin': 'x'.repeat(5000) },
      emulator: { maxUploadBytes: 2000 },
    });
    const r = await sync(project);
    expect(r.code).toBe(1);
    expect((r.reports[0] as { notMirrored?: unknown }).notMirrored).toEqual([
      { reason: 'refused-by-api', count: 1 },
    ]);
    expect(r.reports[0]!.uploaded).toBe(1);
    expect(r.reports[0]!.skipped).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'big.bin', reason: 'refused-by-api' })]),
    );
    expect(project.emulator.files().map((f) => f.filename)).toEqual(['small.txt']);
  });

  it('skips a file over 500 MB without reading it, and syncs the rest', async () => {
    const project = await makeProject({ files: { 'small.txt': 'ok' } });
    const fh = await fs.open(path.join(project.folder, 'huge.iso'), 'w');
    await fh.truncate(600 * 1024 * 1024); // sparse: no disk used
    await fh.close();
    const r = await sync(project);
    expect(r.reports[0]).toMatchObject({ uploaded: 1, hashed: 1 });
    expect(r.reports[0]!.skipped).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'huge.iso', reason: 'too-large' })]),
    );
  });

  it('a configuration mistake exits 78 naming the field and the fix, before touching anything', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a' }, config: { api: { concurrency: 0 } } });
    const r = await runCli(['sync', '-c', project.configPath], { env: project.env });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/api\.concurrency/);
    expect(r.stderr).toMatch(/Fix:/);
    expect(project.emulator.stats().requests).toBe(0);
    await expect(fs.access(project.stateDir)).rejects.toThrow();
  });

  it('a missing API key exits 78 and says which variable to set', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a' } });
    const env = { ...project.env };
    delete env.ANTHROPIC_API_KEY;
    const r = await runCli(['sync', '-c', project.configPath], { env });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/ANTHROPIC_API_KEY/);
  });

  it('a wrong API key fails clearly and never prints the key', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a' } });
    const wrong = 'sk-ant-wrong-key-that-must-not-leak-42';
    const r = await runCli(['sync', '-c', project.configPath], {
      env: { ...project.env, ANTHROPIC_API_KEY: wrong },
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/401|authentication/i);
    expect(r.stdout + r.stderr).not.toContain(wrong);
  });

  it('a second process on the same state dir is refused with the holder named', async () => {
    const project = await makeProject({ files: { 'a.txt': 'a' } });
    const { acquireLock } = await import('../../src/state/lock.js');
    const lock = await acquireLock(project.stateDir);
    try {
      const r = await runCli(['sync', '-c', project.configPath], { env: project.env });
      expect(r.code).toBe(75);
      expect(r.stderr).toContain(String(process.pid));
    } finally {
      await lock.release();
    }
  });
});
