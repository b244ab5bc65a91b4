/**
 * Ownership across hosts with PostgreSQL state: a folder's recovery never adopts or deletes a
 * remote file that another folder (another daemon, another host) records in the same database,
 * even one recorded after this folder's session opened.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FilesClient } from '../../src/api/client.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { hashFile } from '../../src/local/hash.js';
import { silentLogger } from '../../src/log.js';
import { pgForeignClaims } from '../../src/state/postgres/ownership.js';
import { openPgReader } from '../../src/state/postgres/reader.js';
import { PgStateStore } from '../../src/state/postgres/store.js';
import { openFolderSession, reconcileSession } from '../../src/sync/session.js';
import type { RemoteFile } from '../../src/types.js';
import { onCleanup } from '../helpers/cleanup.js';
import { freshDatabase } from '../helpers/postgres.js';
import { makeProject, TEST_KEY, type Project } from '../helpers/project.js';

const NO_TIMER = { writeDelayMs: 60_000, maxWriteDelayMs: 60_000 };

function newClient(p: Project, extra: { uploadTimeoutMs?: number } = {}): FilesClient {
  const c = new FilesClient({
    apiKey: TEST_KEY,
    baseUrl: p.emulator.url,
    backoffBaseMs: 5,
    maxBackoffMs: 20,
    ...extra,
  });
  onCleanup(() => c.close());
  return c;
}

/** Folder "docs" of the project (host B) with its state in a fresh database. */
async function setup(files: Record<string, string>, exclusive: boolean) {
  const url = await freshDatabase();
  const p = await makeProject({ files, config: { api: { workspaceExclusive: exclusive } } });
  const loaded = (await loadConfig({ configPath: p.configPath, env: {} })).config;
  // The URL (with the test server's password) goes in here, past the config check that refuses it.
  const config: Config = { ...loaded, state: { backend: 'postgres', url } };
  return { url, p, config, folder: config.folders[0]!, c: newClient(p) };
}

/** Folder "elsewhere" on host A, in the same database and workspace, records `file` for `rel`. */
async function recordOnHostA(url: string, rel: string, file: RemoteFile, extra?: (s: PgStateStore) => void) {
  const a = await PgStateStore.open({
    url,
    folder: { name: 'elsewhere', root: '/srv/elsewhere', workspaceId: null },
    owner: { host: 'host-a', pid: 4242 },
    ...NO_TIMER,
  });
  a.set(rel, {
    fileId: file.id,
    sha256: 'a'.repeat(64),
    size: file.sizeBytes,
    mtimeMs: 1,
    ino: 1,
    remoteName: file.filename,
    mimeType: 'text/plain',
    uploadedAt: file.createdAt,
  });
  extra?.(a);
  await a.close();
}

/** Host B crashed in an upload of `rel`: its intent is in the database, nothing reached the server. */
async function crashedIntent(url: string, root: string, rel: string) {
  const h = await hashFile(path.join(root, rel));
  const b = await PgStateStore.open({ url, folder: { name: 'docs', root, workspaceId: null }, ...NO_TIMER });
  await b.addPendingUpload(
    {
      path: rel,
      sha256: h.sha256,
      size: h.size,
      remoteName: rel,
      startedAt: new Date(Date.now() - 1000).toISOString(),
    },
    { durable: true },
  );
  await b.close();
}

describe('ownership across hosts (postgres)', () => {
  it.each([
    ['shared', false],
    ['exclusive', true],
  ])(
    'a %s workspace: recovery never takes a same-name file another host recorded after this session opened',
    async (_mode, exclusive) => {
      const s = await setup({ 'report.txt': 'bbbb' }, exclusive);
      await crashedIntent(s.url, s.folder.path, 'report.txt');
      // B's client knows the server's clock (a file it uploaded), so a later file is provably "after the intent".
      const probe = path.join(s.p.dir, 'probe.bin');
      await writeFile(probe, 'probe');
      await s.c.delete((await s.c.upload(probe, { filename: 'probe.bin' })).id);
      const session = await openFolderSession(s.config, s.folder, s.c, silentLogger());
      onCleanup(() => session.close());

      // Host A uploads its own report.txt (same name, same size) and records it, after B opened.
      const aSource = path.join(s.p.dir, 'a-report.txt');
      await writeFile(aSource, 'aaaa');
      const fileA = await newClient(s.p).upload(aSource, { filename: 'report.txt' });
      await recordOnHostA(s.url, 'report.txt', fileA);

      const report = await reconcileSession(session, s.config, s.c, {});
      expect(report.failed).toEqual([]);
      await session.close();
      expect(s.p.emulator.files().map((f) => f.id)).toContain(fileA.id);
      const b = await openPgReader({ url: s.url, folder: 'docs' });
      const mine = b.get('report.txt')?.fileId;
      expect(mine).toBeDefined();
      expect(mine).not.toBe(fileA.id);
      expect(b.pendingUploads()).toEqual([]);
      expect(b.pendingDeletes().map((d) => d.fileId)).not.toContain(fileA.id);
      expect(b.suspects().map((x) => x.fileId)).not.toContain(fileA.id);
      expect(s.p.emulator.files()).toHaveLength(2);
    },
  );

  it('a file another host records between the plan and its execution is left alone (asked again right before acting)', async () => {
    const s = await setup({ 'report.txt': 'bbbb' }, false);
    await crashedIntent(s.url, s.folder.path, 'report.txt');
    const probe = path.join(s.p.dir, 'probe.bin');
    await writeFile(probe, 'probe');
    await s.c.delete((await s.c.upload(probe, { filename: 'probe.bin' })).id);
    const aSource = path.join(s.p.dir, 'a-report.txt');
    await writeFile(aSource, 'aaaa');
    const fileA = await newClient(s.p).upload(aSource, { filename: 'report.txt' });
    await recordOnHostA(s.url, 'report.txt', fileA);
    const session = await openFolderSession(s.config, s.folder, s.c, silentLogger());
    onCleanup(() => session.close());
    const live = session.foreign!;
    // The claims read after the listing predate A's record (A committed a moment later).
    session.foreign = { ...live, snapshot: () => Promise.resolve({ ids: new Set(), uploadKeys: new Set() }) };

    const first = await reconcileSession(session, s.config, s.c, {});
    expect(first.failed).toEqual([]);
    expect(session.manifest.get('report.txt')).toBeUndefined();
    expect(session.manifest.pendingUpload('report.txt')).toBeDefined();

    // The next pass sees A's record from the start: the intent goes and B uploads its own copy.
    session.foreign = live;
    await reconcileSession(session, s.config, s.c, {});
    const mine = session.manifest.get('report.txt')?.fileId;
    expect(mine).toBeDefined();
    expect(mine).not.toBe(fileA.id);
    expect(session.manifest.pendingUploads()).toEqual([]);
    await session.close();
    expect(s.p.emulator.files().map((f) => f.id)).toContain(fileA.id);
    expect(s.p.emulator.files()).toHaveLength(2);
  });

  it('a queued stray copy that another host records by the time it is due is forgotten, not deleted', async () => {
    const s = await setup({}, true);
    const aSource = path.join(s.p.dir, 'a.txt');
    await writeFile(aSource, 'aaaa');
    const fileA = await newClient(s.p).upload(aSource, { filename: 'a.txt' });
    const b0 = await PgStateStore.open({
      url: s.url,
      folder: { name: 'docs', root: s.folder.path, workspaceId: null },
      ...NO_TIMER,
    });
    await b0.addPendingDelete(
      { fileId: fileA.id, path: 'a.txt', reason: 'stray', queuedAt: new Date().toISOString() },
      { durable: true },
    );
    await b0.close();
    const session = await openFolderSession(s.config, s.folder, s.c, silentLogger());
    onCleanup(() => session.close());
    await recordOnHostA(s.url, 'a.txt', fileA);

    await reconcileSession(session, s.config, s.c, {});
    await session.close();
    expect(s.p.emulator.files().map((f) => f.id)).toEqual([fileA.id]);
    expect(s.p.emulator.stats().deletes).toBe(0);
    expect((await openPgReader({ url: s.url, folder: 'docs' })).pendingDeletes()).toEqual([]);
  });

  it('an unanswered upload adopts nothing while another host has an upload of the same name and size unresolved', async () => {
    const s = await setup({ 'report.txt': 'bbbb' }, false);
    // An upload unanswered for 300 ms is given up; the emulator creates its file only 3 s later.
    const c = newClient(s.p, { uploadTimeoutMs: 300 });
    const probe = path.join(s.p.dir, 'probe.bin');
    await writeFile(probe, 'probe');
    await c.delete((await c.upload(probe, { filename: 'probe.bin' })).id);
    // Host A's intent for its report.txt is recorded (its POST is under way)...
    const a = await PgStateStore.open({
      url: s.url,
      folder: { name: 'elsewhere', root: '/srv/elsewhere', workspaceId: null },
      owner: { host: 'host-a', pid: 4242 },
      ...NO_TIMER,
    });
    onCleanup(() => a.close());
    await a.addPendingUpload(
      {
        path: 'report.txt',
        sha256: 'a'.repeat(64),
        size: 4,
        remoteName: 'report.txt',
        startedAt: new Date().toISOString(),
      },
      { durable: true },
    );
    // ...and its file appears while B's own upload of report.txt gets no answer.
    const fromA = s.p.emulator.addFile({
      filename: 'report.txt',
      sizeBytes: 4,
      createdAt: new Date(Date.now() + 2000).toISOString(),
    });
    s.p.emulator.setFaults({ rateLateCreate: 1, lateCreateMs: 3000 });
    const b = await PgStateStore.open({
      url: s.url,
      folder: { name: 'docs', root: s.folder.path, workspaceId: null },
      ...NO_TIMER,
    });
    onCleanup(() => b.close());
    const foreign = pgForeignClaims(b.pool, 'docs');
    await expect(
      c.upload(path.join(s.folder.path, 'report.txt'), { filename: 'report.txt', foreign }),
    ).rejects.toThrow(/another folder has an upload of the same name and size unresolved/);

    // Once A has recorded it, B's recovery passes over it and its own upload goes through.
    a.set('report.txt', {
      fileId: fromA.id,
      sha256: 'a'.repeat(64),
      size: 4,
      mtimeMs: 1,
      ino: 1,
      remoteName: 'report.txt',
      mimeType: 'text/plain',
      uploadedAt: fromA.createdAt,
    });
    a.removePendingUpload('report.txt');
    await a.flush();
    let asked = 0;
    const healing = {
      ...foreign,
      claimed: (ids: readonly string[]) => {
        // The network heals once the recovery has looked: the retry is answered.
        if (asked++ === 0) s.p.emulator.setFaults({});
        return foreign.claimed(ids);
      },
    };
    const mine = await c.upload(path.join(s.folder.path, 'report.txt'), {
      filename: 'report.txt',
      foreign: healing,
    });
    expect(asked).toBeGreaterThan(0);
    expect(mine.id).not.toBe(fromA.id);
    expect(s.p.emulator.files().map((f) => f.id)).toContain(fromA.id);
  });
});
