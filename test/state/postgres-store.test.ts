// The PostgreSQL store's own guarantees: migrations (twice, concurrently), lease fencing, NOTIFY, and no password in errors.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { connect, inTransaction } from '../../src/state/postgres/connection.js';
import { LeaseHeldError, LeaseLostError, PgConnectionError } from '../../src/state/postgres/errors.js';
import { DEFAULT_LEASE_STALE_MS, readLease } from '../../src/state/postgres/lease.js';
import { migrateSchema, SCHEMA_VERSION } from '../../src/state/postgres/migrations.js';
import {
  CHANGES_CHANNEL,
  KEEP_DB_EVENTS,
  PgStateStore,
  type ChangeNotification,
} from '../../src/state/postgres/store.js';
import type { ManifestEntry } from '../../src/types.js';
import { onCleanup } from '../helpers/cleanup.js';
import { freshDatabase, testDatabaseUrl, uniqueFolder } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const NO_TIMER = { writeDelayMs: 60_000, maxWriteDelayMs: 60_000 };

function entry(fileId: string): ManifestEntry {
  return {
    fileId,
    sha256: 'a'.repeat(64),
    size: 3,
    mtimeMs: 1_700_000_000_000,
    ino: 42,
    remoteName: 'a.txt',
    mimeType: 'text/plain',
    uploadedAt: '2026-01-01T00:00:00.000Z',
  };
}

async function client(url = testDatabaseUrl()): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  onCleanup(() => c.end());
  return c;
}

async function openStore(folder: string, extra: Partial<Parameters<typeof PgStateStore.open>[0]> = {}) {
  const store = await PgStateStore.open({
    url: testDatabaseUrl(),
    folder: { name: folder, root: '/srv/docs', workspaceId: null },
    ...NO_TIMER,
    ...extra,
  });
  onCleanup(() => store.close().catch(() => undefined));
  return store;
}

describe('PostgreSQL schema migrations', () => {
  it('create the schema once; a second run applies nothing', async () => {
    const url = await freshDatabase();
    const conn = connect({ url });
    onCleanup(() => conn.pool.end());
    expect(await migrateSchema(conn.pool)).toEqual([1, 2]);
    expect(await migrateSchema(conn.pool)).toEqual([]);
    const c = await client(url);
    const { rows } = await c.query<{ version: number }>(
      'SELECT version FROM files_sync.schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual([1, 2]);
    expect(SCHEMA_VERSION).toBe(2);
    const idx = await c.query(
      "SELECT 1 FROM pg_indexes WHERE schemaname = 'files_sync' AND indexname = 'entries_file_id'",
    );
    expect(idx.rowCount).toBe(1);
  });

  it('run by several processes at once, exactly one applies each version', async () => {
    const url = await freshDatabase();
    const pools = Array.from({ length: 4 }, () => connect({ url }));
    onCleanup(() => Promise.all(pools.map((p) => p.pool.end())));
    const applied = await Promise.all(pools.map((p) => migrateSchema(p.pool)));
    expect(applied.flat()).toEqual([1, 2]);
  });

  it('bring a database made by the first release (version 1) up to date, keeping its rows', async () => {
    const url = await freshDatabase();
    const conn = connect({ url });
    onCleanup(() => conn.pool.end());
    await migrateSchema(conn.pool);
    // Back to what version 1 made, with a row in it.
    const c = await client(url);
    await c.query('DROP TABLE files_sync.events');
    await c.query('DELETE FROM files_sync.schema_migrations WHERE version = 2');
    await c.query(
      `INSERT INTO files_sync.entries (folder, path, file_id, sha256, size_bytes, mime_type, uploaded_at, mtime_ms, ino, remote_name)
       VALUES ('old', 'a.txt', 'file_old', 'x', 1, 'text/plain', now(), 0, 0, 'a.txt')`,
    );
    expect(await migrateSchema(conn.pool)).toEqual([2]);
    expect(
      (await c.query('SELECT 1 FROM files_sync.entries WHERE file_id = $1', ['file_old'])).rowCount,
    ).toBe(1);
    expect((await c.query('SELECT count(*)::int AS n FROM files_sync.events')).rows[0]).toEqual({ n: 0 });
  });
});

describe('files_sync.events', () => {
  const uploaded = (folder: string, p: string, fileId: string) => ({
    type: 'uploaded',
    folder,
    path: p,
    fileId,
    previousFileId: null,
    time: '2026-12-02T10:00:00.000Z',
  });

  it('a change is written in the same transaction as the entry it reports, in order, with its details', async () => {
    const folder = uniqueFolder();
    const store = await openStore(folder);
    store.set('a.txt', entry('file_a'));
    store.recordChange(uploaded(folder, 'a.txt', 'file_a'));
    store.recordChange({
      type: 'held',
      folder,
      path: null,
      fileId: null,
      previousFileId: null,
      count: 3,
      reason: 'more than 50% of the folder',
      time: '2026-12-02T10:00:01.000Z',
    });
    const c = await client();
    const count = async () =>
      (
        await c.query<{ n: number }>('SELECT count(*)::int AS n FROM files_sync.events WHERE folder = $1', [
          folder,
        ])
      ).rows[0]!.n;
    expect(await count()).toBe(0);
    const writes = store.writeCount;
    await store.flush();
    expect(store.writeCount).toBe(writes + 1);
    const { rows } = await c.query(
      `SELECT type, path, file_id, previous_file_id, detail, time FROM files_sync.events WHERE folder = $1 ORDER BY id`,
      [folder],
    );
    expect(rows).toEqual([
      {
        type: 'uploaded',
        path: 'a.txt',
        file_id: 'file_a',
        previous_file_id: null,
        detail: null,
        time: new Date('2026-12-02T10:00:00.000Z'),
      },
      {
        type: 'held',
        path: null,
        file_id: null,
        previous_file_id: null,
        detail: { count: 3, reason: 'more than 50% of the folder' },
        time: new Date('2026-12-02T10:00:01.000Z'),
      },
    ]);
  });

  it('a store that lost its lease records no event either', async () => {
    const folder = uniqueFolder();
    const a = await openStore(folder, { heartbeatMs: 3_600_000 });
    let b: PgStateStore | undefined;
    await waitFor(
      async () => {
        b = await openStore(folder, { leaseStaleMs: 300 });
        return true;
      },
      { message: 'B takes the stale lease' },
    );
    a.set('late.txt', entry('file_late'));
    a.recordChange(uploaded(folder, 'late.txt', 'file_late'));
    expect(await a.flush().catch((e: unknown) => e)).toBeInstanceOf(LeaseLostError);
    const c = await client();
    const { rowCount } = await c.query('SELECT 1 FROM files_sync.events WHERE folder = $1', [folder]);
    expect(rowCount).toBe(0);
    expect(b).toBeDefined();
  });

  it('keeps the last KEEP_DB_EVENTS of a folder', async () => {
    const folder = uniqueFolder();
    const store = await openStore(folder);
    for (let i = 0; i < KEEP_DB_EVENTS + 300; i++)
      store.recordChange(uploaded(folder, `f${i}.txt`, `file_${i}`));
    await store.flush();
    const c = await client();
    const { rows } = await c.query<{ n: number; first: string }>(
      `SELECT count(*)::int AS n, min(path) FILTER (WHERE id = (SELECT min(id) FROM files_sync.events WHERE folder = $1)) AS first
       FROM files_sync.events WHERE folder = $1`,
      [folder],
    );
    expect(rows[0]).toEqual({ n: KEEP_DB_EVENTS, first: 'f300.txt' });
  });
});

describe('folder lease', () => {
  it('a second store cannot take a live lease; it names the owner', async () => {
    const folder = uniqueFolder();
    await openStore(folder, { owner: { host: 'host-a', pid: 111 } });
    const err = await openStore(folder, { owner: { host: 'host-b', pid: 222 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseHeldError);
    expect((err as Error).message).toContain('host-a pid 111');
  });

  it('a stale lease is taken over with a higher token; the old holder then writes nothing', async () => {
    const folder = uniqueFolder();
    // No heartbeat from A, so its lease goes stale as soon as B's threshold passes.
    const a = await openStore(folder, { owner: { host: 'host-a', pid: 111 }, heartbeatMs: 3_600_000 });
    a.set('kept.txt', entry('file_kept'));
    await a.flush();
    let b: PgStateStore | undefined;
    await waitFor(
      async () => {
        // No heartbeat either: a 300 ms stale time leaves too little room for a loaded machine's renewals.
        b = await openStore(folder, {
          owner: { host: 'host-b', pid: 222 },
          leaseStaleMs: 300,
          heartbeatMs: 3_600_000,
        });
        return true;
      },
      { message: 'B takes the stale lease' },
    );
    expect(BigInt(b!.leaseToken)).toBeGreaterThan(BigInt(a.leaseToken));
    expect((await readLease(b!.pool, folder))?.ownerHost).toBe('host-b');
    expect(b!.get('kept.txt')?.fileId).toBe('file_kept');

    a.set('late.txt', entry('file_late'));
    a.remove('kept.txt');
    a.updateStats({ lastError: 'from a' });
    const err = await a.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseLostError);
    // Every later write fails the same way, without touching the database.
    await expect(
      a.addPendingUpload(
        { path: 'x', sha256: '', size: 0, remoteName: 'x', startedAt: 'now' },
        { durable: true },
      ),
    ).rejects.toBeInstanceOf(LeaseLostError);
    const c = await client();
    const { rows } = await c.query<{ path: string }>(
      'SELECT path FROM files_sync.entries WHERE folder = $1',
      [folder],
    );
    expect(rows.map((r) => r.path)).toEqual(['kept.txt']);
    const up = await c.query('SELECT 1 FROM files_sync.pending_uploads WHERE folder = $1', [folder]);
    expect(up.rowCount).toBe(0);
    const stats = await c.query<{ stats: Record<string, unknown> }>(
      'SELECT stats FROM files_sync.folders WHERE folder = $1',
      [folder],
    );
    expect(stats.rows[0]!.stats.lastError).toBeUndefined();

    // B still writes.
    b!.set('b.txt', entry('file_b'));
    await b!.flush();
  });

  it('a heartbeat notices the takeover and reports it', async () => {
    const folder = uniqueFolder();
    let lost: LeaseLostError | undefined;
    await openStore(folder, { heartbeatMs: 50, onLeaseLost: (e) => (lost = e) });
    const c = await client();
    // Another daemon takes it (as a takeover after staleness would): the token moves on.
    await c.query('UPDATE files_sync.leases SET token = token + 1 WHERE folder = $1', [folder]);
    await waitFor(() => lost !== undefined, { message: 'onLeaseLost called' });
    expect(lost).toBeInstanceOf(LeaseLostError);
  });

  it('a clean close releases the lease at once for the next daemon', async () => {
    const folder = uniqueFolder();
    const a = await openStore(folder, { owner: { host: 'host-a', pid: 111 } });
    await a.close();
    // Released: shown as older than any stale time (not an error), still naming the last owner.
    const released = await readLease(await client(), folder);
    expect(released).toMatchObject({ ownerHost: 'host-a', ownerPid: 111 });
    expect(released!.ageMs).toBeGreaterThan(DEFAULT_LEASE_STALE_MS);
    const b = await openStore(folder);
    expect(BigInt(b.leaseToken)).toBeGreaterThan(BigInt(a.leaseToken));
  });
});

/** A TCP relay to the test server whose `cut()` makes the database unreachable through it. */
async function relay(): Promise<{ url: string; cut(): void }> {
  const target = new URL(testDatabaseUrl());
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(Number(target.port), target.hostname);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (s === up ? down : up).destroy());
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  onCleanup(async () => cut());
  const u = new URL(target);
  u.port = String((server.address() as net.AddressInfo).port);
  return { url: u.toString(), cut };
}

describe('database unreachable', () => {
  it('halts the store: reported once, nothing more written, close neither writes nor releases; the lease is taken back by its token', async () => {
    const folder = uniqueFolder();
    const r = await relay();
    const halts: PgConnectionError[] = [];
    const a = await openStore(folder, { url: r.url, heartbeatMs: 50, onUnreachable: (e) => halts.push(e) });
    a.set('before.txt', entry('file_before'));
    await a.flush();
    r.cut();
    await waitFor(() => halts.length > 0, { message: 'onUnreachable called' });
    expect(halts[0]).toBeInstanceOf(PgConnectionError);
    expect(halts[0]!.message).toContain('unreachable');
    expect(halts[0]!.message).not.toContain(new URL(testDatabaseUrl()).password);
    a.set('after.txt', entry('file_after'));
    await expect(a.flush()).rejects.toBe(halts[0]);
    await a.close();
    expect(halts).toHaveLength(1);
    const c = await client();
    const { rows } = await c.query<{ path: string }>(
      'SELECT path FROM files_sync.entries WHERE folder = $1',
      [folder],
    );
    expect(rows.map((x) => x.path)).toEqual(['before.txt']);

    // Its lease is still fresh and recorded: another token cannot take it, its own takes it back at once.
    const other = await openStore(folder, { reclaimToken: String(BigInt(a.leaseToken) + 5n) }).catch(
      (e: unknown) => e,
    );
    expect(other).toBeInstanceOf(LeaseHeldError);
    const back = await openStore(folder, { reclaimToken: a.leaseToken });
    expect(BigInt(back.leaseToken)).toBeGreaterThan(BigInt(a.leaseToken));
    expect(back.get('before.txt')?.fileId).toBe('file_before');
    expect(back.has('after.txt')).toBe(false);
  });

  it("a server that ends a transaction's connection between two statements fails that transaction; the process goes on", async () => {
    // An administrator's pg_terminate_backend, or a restart: the server sends FATAL 57P01 and
    // closes. pg emits it as an 'error' event on a checked-out client, which has no listener of
    // its own: unhandled, node crashed the daemon (seen when the CI database restarted mid-sync).
    const conn = connect({ url: testDatabaseUrl(), max: 1 });
    onCleanup(() => conn.pool.end());
    const admin = await client();
    const outcome = await inTransaction(conn.pool, 'BEGIN', async (c) => {
      const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const ended = new Promise((resolve) => c.once('end', resolve));
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await ended;
      await c.query('SELECT 1');
    }).then(
      () => 'committed',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    expect(outcome).toMatch(/terminat|not queryable|Connection terminated/i);
    // The pool dropped that client: the next transaction gets a working one.
    expect(
      await inTransaction(conn.pool, 'BEGIN', async (c) => (await c.query('SELECT 1 AS one')).rows[0]),
    ).toEqual({
      one: 1,
    });
  });

  it('the write fence reports a takeover through onLeaseLost, and the store then closes without releasing the new lease', async () => {
    const folder = uniqueFolder();
    const lost: LeaseLostError[] = [];
    const a = await openStore(folder, { heartbeatMs: 3_600_000, onLeaseLost: (e) => lost.push(e) });
    const c = await client();
    await c.query("UPDATE files_sync.leases SET token = token + 1, owner_host = 'b' WHERE folder = $1", [
      folder,
    ]);
    a.set('late.txt', entry('file_late'));
    await expect(a.flush()).rejects.toBeInstanceOf(LeaseLostError);
    await a.close();
    expect(lost).toHaveLength(1);
    const lease = await readLease(c, folder);
    expect(lease?.ownerHost).toBe('b');
    // Not released by the old holder: the new owner's heartbeat stands.
    expect(lease!.ageMs).toBeLessThan(60_000);
    const { rowCount } = await c.query('SELECT 1 FROM files_sync.entries WHERE folder = $1', [folder]);
    expect(rowCount).toBe(0);
  });
});

describe('NOTIFY files_sync_changes', () => {
  it('a LISTEN client hears each changed path with its file ID and the previous one, at commit', async () => {
    const folder = uniqueFolder();
    const listener = await client();
    const heard: ChangeNotification[] = [];
    listener.on('notification', (n) => {
      const note = JSON.parse(n.payload ?? '{}') as ChangeNotification;
      if (n.channel === CHANGES_CHANNEL && note.folder === folder) heard.push(note);
    });
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
    const store = await openStore(folder);
    store.set('a.txt', entry('file_1'));
    expect(heard).toEqual([]);
    await store.flush();
    await waitFor(() => heard.length === 1, { message: 'first notification' });
    store.set('a.txt', entry('file_2'));
    await store.flush();
    store.remove('a.txt');
    await store.flush();
    await waitFor(() => heard.length === 3, { message: 'three notifications' });
    expect(heard).toEqual([
      { folder, path: 'a.txt', file_id: 'file_1', previous_file_id: null },
      { folder, path: 'a.txt', file_id: 'file_2', previous_file_id: 'file_1' },
      { folder, path: 'a.txt', file_id: null, previous_file_id: 'file_2' },
    ]);
  });
});

describe('database password', () => {
  it('never appears in an error, whether it is wrong or the database is', async () => {
    const good = new URL(testDatabaseUrl());
    const secret = decodeURIComponent(good.password);
    const wrong = new URL(good);
    wrong.password = 'Wrong-Secret-123';
    const noDb = new URL(good);
    noDb.pathname = '/no_such_database';
    for (const url of [wrong.toString(), noDb.toString()]) {
      const err = (await PgStateStore.open({ url, folder: { name: uniqueFolder(), root: '/r' } }).catch(
        (e: unknown) => e,
      )) as Error;
      expect(err).toBeInstanceOf(Error);
      const text = [
        err.message,
        err.stack,
        String((err as { cause?: Error }).cause?.message),
        String((err as { cause?: Error }).cause?.stack),
        JSON.stringify((err as { context?: unknown }).context),
      ].join('\n');
      expect(text).not.toContain(secret);
      expect(text).not.toContain('Wrong-Secret-123');
      expect(err.message).toContain(`postgres://${good.username}@${good.host}`);
    }
  });

  it('is taken from a file when the URL has none', async () => {
    const good = new URL(testDatabaseUrl());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-pw-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'pw');
    await writeFile(file, `${decodeURIComponent(good.password)}\n`, { mode: 0o600 });
    const bare = new URL(good);
    bare.password = '';
    const store = await openStore(uniqueFolder(), { url: bare.toString(), passwordFile: file });
    expect(store.file).not.toContain(decodeURIComponent(good.password));
    expect(store.file).toContain(`postgres://${good.username}@`);
  });
});
