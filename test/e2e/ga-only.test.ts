/**
 * `files-sync sync` against a GA-only emulator (the beta header refused): the default GA contract
 * works end to end, folders in two workspaces of one key each see only their own files, a folder's
 * expiresInSeconds reaches its uploads, and the beta contract fails clearly.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeProject, type Project } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';
import { openManifest } from '../../src/state/manifest.js';

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

async function rewriteConfig(p: Project, change: (c: Record<string, unknown>) => void): Promise<void> {
  const config = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as Record<string, unknown>;
  change(config);
  await fs.writeFile(p.configPath, JSON.stringify(config, null, 2));
}

describe('sync against a GA-only API', () => {
  it('syncs folders of two workspaces, each into its own, with the folder expiry; a second run does nothing', async () => {
    const p = await makeProject({
      files: { 'a.txt': 'alpha', 'sub/b.md': '# b' },
      emulator: { gaOnly: true, workspaces: ['wrkspc_main', 'wrkspc_legal'] },
    });
    project = p;
    const legal = path.join(p.dir, 'legal');
    await fs.mkdir(legal);
    await fs.writeFile(path.join(legal, 'nda.pdf'), '%PDF-1.4 nda');
    await rewriteConfig(p, (c) => {
      c.api = { ...(c.api as object), workspaceId: 'wrkspc_main' };
      c.folders = [
        { name: 'docs', path: p.folder },
        { name: 'legal', path: legal, workspaceId: 'wrkspc_legal', expiresInSeconds: 86_400 },
      ];
    });
    const first = await syncJson(p);
    expect(first.code, first.stderr).toBe(0);
    expect(first.reports.map((r) => [r.folder, r.uploaded])).toEqual([
      ['docs', 2],
      ['legal', 1],
    ]);
    const files = p.emulator.files();
    const where = Object.fromEntries(files.map((f) => [f.filename, f.workspaceId]));
    expect(where).toEqual({ 'a.txt': 'wrkspc_main', 'b.md': 'wrkspc_main', 'nda.pdf': 'wrkspc_legal' });
    const nda = files.find((f) => f.filename === 'nda.pdf');
    expect(Date.parse(nda?.expiresAt ?? '') - Date.parse(nda?.createdAt ?? '')).toBe(86_400_000);
    expect(files.filter((f) => f.filename !== 'nda.pdf').every((f) => f.expiresAt === null)).toBe(true);

    // Each folder's listing is its own workspace's: nothing looks missing, nothing foreign.
    const second = await syncJson(p);
    expect(second.code, second.stderr).toBe(0);
    expect(second.reports.map((r) => [r.folder, r.uploaded, r.unmanagedRemote])).toEqual([
      ['docs', 0, 0],
      ['legal', 0, 0],
    ]);
    expect(p.emulator.stats().uploadsCreated).toBe(3);
  });

  it('a folder moved to another workspace starts over there and deletes nothing in the old one', async () => {
    const p = await makeProject({
      files: { 'a.txt': 'alpha', 'sub/b.md': '# b' },
      emulator: { gaOnly: true, workspaces: ['wrkspc_main', 'wrkspc_legal'] },
    });
    project = p;
    await rewriteConfig(p, (c) => {
      c.folders = [{ name: 'docs', path: p.folder, workspaceId: 'wrkspc_main' }];
    });
    const first = await syncJson(p);
    expect(first.code, first.stderr).toBe(0);
    const before = p.emulator.files().map((f) => [f.id, f.workspaceId]);
    expect(before.map(([, w]) => w)).toEqual(['wrkspc_main', 'wrkspc_main']);
    const manifest = await openManifest(p.stateDir, 'docs');
    expect(manifest.folder.workspaceId).toBe('wrkspc_main');

    await rewriteConfig(p, (c) => {
      c.folders = [{ name: 'docs', path: p.folder, workspaceId: 'wrkspc_legal' }];
    });
    const moved = await syncJson(p);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.reports[0]?.uploaded).toBe(2);
    expect(moved.reports[0]?.deleted).toBe(0);
    expect(moved.stderr + moved.stdout).toMatch(/moved from workspace wrkspc_main to wrkspc_legal/);
    // The old copies are untouched (another workspace's IDs are not this folder's to delete).
    const after = p.emulator.files();
    for (const [id] of before) expect(after.find((f) => f.id === id)?.workspaceId).toBe('wrkspc_main');
    expect(after.filter((f) => f.workspaceId === 'wrkspc_legal')).toHaveLength(2);
    await manifest.reload();
    expect(manifest.folder.workspaceId).toBe('wrkspc_legal');
    expect([...manifest.entries()].every(([, e]) => !before.some(([id]) => id === e.fileId))).toBe(true);
    // The state as it was in the old workspace stays in the backup.
    const bak = await openManifest(path.join(p.stateDir, 'docs.manifest.bak'), 'docs');
    expect(bak.folder.workspaceId).toBe('wrkspc_main');
    expect(bak.size).toBe(2);
  });

  it('the beta contract is refused by a GA-only server, naming the beta header; nothing is created', async () => {
    const p = await makeProject({ files: { 'a.txt': 'a' }, emulator: { gaOnly: true } });
    project = p;
    await rewriteConfig(p, (c) => {
      c.api = { ...(c.api as object), contract: 'beta' };
    });
    const r = await syncJson(p);
    expect(r.stdout + r.stderr).toMatch(/anthropic-beta files-api-2025-04-14 is no longer supported/);
    expect(r.reports[0]?.uploaded).toBe(0);
    expect(p.emulator.files()).toEqual([]);
  });

  it('a full storage fails the sync (exit 1) with storage_quota_exceeded, each upload sent once', async () => {
    const p = await makeProject({
      files: { 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'charlie' },
      emulator: { gaOnly: true, storageQuotaBytes: 0 },
    });
    project = p;
    const r = await syncJson(p);
    expect(r.code).toBe(1);
    const failed = r.reports[0]?.failed ?? [];
    expect(failed.map((f) => f.path).sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(failed.every((f) => f.error.includes('storage_quota_exceeded'))).toBe(true);
    expect(p.emulator.stats().byRoute['POST /v1/files']).toBe(3);
    expect(p.emulator.files()).toEqual([]);
  });
});
