/**
 * Crash recovery of pending intents: the process dies between a request and the manifest write
 * that records its answer. The next reconciliation must leave no orphan and no duplicate.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { makeProjectWithClient } from '../helpers/project.js';
import { Manifest, openManifest } from '../../src/state/manifest.js';
import { openFolderSession, reconcileSession } from '../../src/sync/session.js';
import { silentLogger } from '../../src/log.js';
import { remoteNameFor } from '../../src/api/filename.js';
import { hashFile } from '../../src/local/hash.js';

const setup = makeProjectWithClient;

/** Reconciles once in a fresh "process" (new manifest instance, new session). */
async function reconcileFresh(s: Awaited<ReturnType<typeof setup>>) {
  const session = await openFolderSession(s.config, s.folder, s.c, silentLogger());
  try {
    return await reconcileSession(session, s.config, s.c, {});
  } finally {
    await session.close();
  }
}

/** What the crashed process had done: an intent on disk, and `uploads` POSTs that reached the server. */
async function crashAfterUpload(
  s: Awaited<ReturnType<typeof setup>>,
  rel: string,
  uploads: number,
): Promise<void> {
  const m = await Manifest.open(s.config.stateDir, { name: s.folder.name, root: s.folder.path });
  const abs = path.join(s.folder.path, rel);
  const h = await hashFile(abs);
  await m.addPendingUpload(
    {
      path: rel,
      sha256: h.sha256,
      size: h.size,
      remoteName: remoteNameFor(rel),
      startedAt: new Date(Date.now() - 1000).toISOString(),
    },
    { durable: true },
  );
  for (let i = 0; i < uploads; i++) await s.c.upload(abs, { filename: remoteNameFor(rel) });
  // The crash: the answer is never recorded. Closing flushes nothing new (the intent is already on disk).
  await m.close();
}

describe('crash between upload and manifest write', () => {
  it('adopts the file the crashed upload created instead of uploading again', async () => {
    const s = await setup({ 'report.pdf': 'pdf bytes', 'other.txt': 'o' });
    await crashAfterUpload(s, 'report.pdf', 1);
    const createdByCrash = s.p.emulator.files()[0]!.id;
    const report = await reconcileFresh(s);
    expect(report.failed).toEqual([]);
    const m = await openManifest(s.config.stateDir, s.folder.name);
    expect(m.get('report.pdf')?.fileId).toBe(createdByCrash);
    expect(m.pendingUploads()).toEqual([]);
    expect(s.p.emulator.stats().uploadsCreated).toBe(2); // the crashed one + other.txt, no re-upload
    expect(s.p.emulator.files()).toHaveLength(2);
  });

  it('keeps one of several duplicates and deletes the rest', async () => {
    const s = await setup({ 'a.txt': 'same' });
    await crashAfterUpload(s, 'a.txt', 3);
    expect(s.p.emulator.files()).toHaveLength(3);
    await reconcileFresh(s);
    const m = await openManifest(s.config.stateDir, s.folder.name);
    const live = s.p.emulator.files();
    expect(live).toHaveLength(1);
    expect(m.get('a.txt')?.fileId).toBe(live[0]!.id);
  });

  it('an intent that never reached the server is dropped and the file uploaded once', async () => {
    const s = await setup({ 'a.txt': 'x' });
    await crashAfterUpload(s, 'a.txt', 0);
    await reconcileFresh(s);
    const m = await openManifest(s.config.stateDir, s.folder.name);
    expect(s.p.emulator.files()).toHaveLength(1);
    expect(m.get('a.txt')?.fileId).toBe(s.p.emulator.files()[0]!.id);
    expect(m.pendingUploads()).toEqual([]);
  });

  it('discards the crashed upload when the file changed before the restart', async () => {
    const s = await setup({ 'a.txt': 'version one' });
    await crashAfterUpload(s, 'a.txt', 1);
    const stale = s.p.emulator.files()[0]!.id;
    await s.p.write('a.txt', 'version two, longer');
    await reconcileFresh(s);
    const m = await openManifest(s.config.stateDir, s.folder.name);
    const live = s.p.emulator.files();
    expect(live.map((f) => f.id)).not.toContain(stale);
    expect(live).toHaveLength(1);
    expect(m.get('a.txt')?.fileId).toBe(live[0]!.id);
  });

  it('a pending delete recorded before a crash is carried out by the next run', async () => {
    const s = await setup({ 'a.txt': 'a' });
    await reconcileFresh(s);
    const old = s.p.emulator.files()[0]!.id;
    const m = await Manifest.open(s.config.stateDir, { name: s.folder.name, root: s.folder.path });
    m.remove('a.txt');
    await m.addPendingDelete(
      { fileId: old, path: 'a.txt', reason: 'removed', queuedAt: new Date().toISOString() },
      { durable: true },
    );
    await m.close();
    await s.p.remove('a.txt');
    await reconcileFresh(s);
    expect(s.p.emulator.files()).toHaveLength(0);
    expect((await openManifest(s.config.stateDir, s.folder.name)).pendingDeletes()).toEqual([]);
  });

  it('never deletes a remote file that matches an intent by name but predates it (not ours)', async () => {
    const s = await setup({ 'a.txt': 'a' });
    const foreign = s.p.emulator.addFile({
      filename: 'a.txt',
      sizeBytes: 1,
      createdAt: '2020-01-01T00:00:00.000Z',
    });
    await crashAfterUpload(s, 'a.txt', 0);
    await reconcileFresh(s);
    expect(s.p.emulator.files().map((f) => f.id)).toContain(foreign.id);
    expect(s.p.emulator.files()).toHaveLength(2);
  });
});
