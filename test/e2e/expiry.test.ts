/**
 * Expiry end to end against the emulator's expiry clock: a folder with `expiresInSeconds` whose
 * copies expired is uploaded again (reason `expired`, nothing deleted); copies expiring before the
 * next reconciliation go up again early (reason `expiring`, the old ID retired like a replaced
 * one); the daemon tells consumers with one `expired` event naming the old and the new ID.
 */
import fs from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { makeProject, type Project } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';
import { waitFor } from '../helpers/wait.js';
import { openManifest } from '../../src/state/manifest.js';
import type { SyncOp } from '../../src/sync/ops.js';
import { openStream, serve } from '../serve/support.js';

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

const HOUR_MS = 3_600_000;

/** A GA-only project whose one folder uploads copies that expire after `expiresInSeconds`. */
async function expiringProject(config: Record<string, unknown>, expiresInSeconds = 3600): Promise<Project> {
  const p = await makeProject({ files: { 'a.txt': 'alpha', 'sub/b.md': '# b' }, emulator: { gaOnly: true } });
  const raw = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as Record<string, unknown>;
  Object.assign(raw, config, { folders: [{ name: 'docs', path: p.folder, expiresInSeconds }] });
  await fs.writeFile(p.configPath, JSON.stringify(raw, null, 2));
  return p;
}

/** The file IDs the manifest records, by path. */
async function recordedIds(p: Project): Promise<Record<string, string>> {
  const m = await openManifest(p.stateDir, 'docs');
  return Object.fromEntries([...m.entries()].map(([path, e]) => [path, e.fileId]));
}

/** The reupload ops a dry run plans, as `path reason old-id`. */
async function plannedReuploads(p: Project): Promise<string[]> {
  const r = await syncJson(p, ['--dry-run']);
  const ops = (r.reports[0] as unknown as { ops: SyncOp[] }).ops;
  // Sorted: a plan lists a pass's uploads in the order the manifest holds them, which is not a promise.
  return ops
    .flatMap((op) => (op.kind === 'reupload' ? [`${op.path} ${op.reason} ${op.oldFileId}`] : []))
    .sort();
}

describe('expiry', () => {
  it('uploads expired copies again (reason expired), deletes nothing, and then rests', async () => {
    const p = (project = await expiringProject({ reconcile: { intervalMs: 0 } }));
    expect((await syncJson(p)).reports[0]?.uploaded).toBe(2);
    const before = await recordedIds(p);
    expect(p.emulator.files().every((f) => typeof f.expiresAt === 'string')).toBe(true);

    // The emulator's clock passes expires_at: both copies are gone (404 file_expired).
    p.emulator.advanceTime(HOUR_MS + 1_000);
    expect(p.emulator.files()).toEqual([]);
    expect(await plannedReuploads(p)).toEqual([
      `a.txt expired ${before['a.txt']}`,
      `sub/b.md expired ${before['sub/b.md']}`,
    ]);

    const again = await syncJson(p);
    expect(again.code, again.stderr).toBe(0);
    expect(again.reports[0]).toMatchObject({ uploaded: 2, deleted: 0, failed: [] });
    const after = await recordedIds(p);
    const live = p.emulator.files();
    expect(new Set(live.map((f) => f.id))).toEqual(new Set(Object.values(after)));
    expect(Object.values(after).some((id) => Object.values(before).includes(id))).toBe(false);
    // The new copies carry the folder's expiry again; nothing was queued for deletion.
    expect(live.every((f) => Date.parse(f.expiresAt ?? '') - Date.parse(f.createdAt) === HOUR_MS)).toBe(true);
    expect((await openManifest(p.stateDir, 'docs')).pendingDeletes()).toEqual([]);

    const third = await syncJson(p);
    expect(third.reports[0]).toMatchObject({ uploaded: 0, unchanged: 2 });
  });

  it('uploads copies expiring before the next reconciliation early and retires the old IDs', async () => {
    // Copies live one hour and the next reconciliation is due in one hour: each would lapse first.
    const p = (project = await expiringProject({
      reconcile: { intervalMs: HOUR_MS },
      retention: { supersededMs: 600_000, removedMs: 0 },
    }));
    expect((await syncJson(p)).reports[0]?.uploaded).toBe(2);
    const before = await recordedIds(p);
    expect(await plannedReuploads(p)).toEqual([
      `a.txt expiring ${before['a.txt']}`,
      `sub/b.md expiring ${before['sub/b.md']}`,
    ]);

    const again = await syncJson(p);
    expect(again.code, again.stderr).toBe(0);
    expect(again.reports[0]).toMatchObject({ uploaded: 2, failed: [] });
    const m = await openManifest(p.stateDir, 'docs');
    // The old copies are still readable: kept for the superseded retention like replaced versions.
    expect(m.previousIds('a.txt')).toEqual([
      expect.objectContaining({ fileId: before['a.txt'], reason: 'replaced' }),
    ]);
    expect(p.emulator.files()).toHaveLength(4);
  });

  it('the daemon reports an expiry as one expired event with the old and the new ID', async () => {
    const p = (project = await expiringProject({ reconcile: { intervalMs: 0 } }));
    const s = await serve({}, p);
    const stream = await openStream(s.url);
    const before = await recordedIds(p);
    expect(Object.keys(before)).toHaveLength(2);

    p.emulator.advanceTime(HOUR_MS + 1_000);
    s.daemon.folders.get('docs')!.resume('test: copies expired');
    await waitFor(() => stream.events.filter((e) => e.type === 'expired').length === 2, {
      message: () => `two expired events, got ${JSON.stringify(stream.events)}`,
    });
    const after = await recordedIds(p);
    const expired = stream.events.filter((e) => e.type === 'expired');
    expect(expired.find((e) => e.path === 'a.txt')).toMatchObject({
      folder: 'docs',
      fileId: after['a.txt'],
      previousFileId: before['a.txt'],
      reason: 'expired',
    });
    expect(stream.events.some((e) => e.type === 'uploaded' || e.type === 'deleted')).toBe(false);
    stream.close();
  });
});
