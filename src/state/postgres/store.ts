// One folder's state in PostgreSQL: the same in-memory view as the embedded store, each batch one transaction fenced by the folder lease.
import os from 'node:os';
import type pg from 'pg';
import { errorMessage } from '../../errors.js';
import type { ManifestEntry, PendingDelete, PendingUpload, Suspect, UnsettledAttempt } from '../../types.js';
import { ManifestClosedError } from '../errors.js';
import type { StoredManifest } from '../manifest-files.js';
import {
  emptyRecord,
  MANIFEST_VERSION,
  shareMimeType,
  type FolderRecord,
  type JournalOp,
  type ManifestHead,
  type ManifestStats,
} from '../manifest-format.js';
import { MutableStateView } from '../manifest-view.js';
import type { StateStore } from '../store.js';
import { connect, inTransaction, type PgConnection, type PgConnectionOptions } from './connection.js';
import {
  isConnectionFailure,
  LeaseHeldError,
  LeaseLostError,
  PgConnectionError,
  PgWriteError,
} from './errors.js';
import { acquireLease, DEFAULT_LEASE_STALE_MS, releaseLease, renewLease } from './lease.js';
import { migrateSchema } from './migrations.js';
import { WriteBatchTimer } from '../write-batch-timer.js';

/** The channel consumers LISTEN on; one notification per changed path. */
export const CHANGES_CHANNEL = 'files_sync_changes';

/** The payload of a notification on CHANGES_CHANNEL (JSON). */
export interface ChangeNotification {
  folder: string;
  path: string;
  /** The path's file ID now; null when the path was removed. */
  file_id: string | null;
  /** The file ID before this change; null when the path is new. */
  previous_file_id: string | null;
}

/**
 * A change consumers see, kept in files_sync.events so that programs on any host can read the
 * history with SQL. The daemon's change events (src/serve/change-events.ts) are this shape with
 * `type` narrowed to their vocabulary.
 */
export interface StateChangeEvent {
  type: string;
  folder: string;
  /** The path now (a move's destination); null for a `held` event, which is about the folder. */
  path: string | null;
  /** The path's file ID now; for `deleted`, the ID that is gone. */
  fileId: string | null;
  /**
   * For `replaced`, `expired` (and `uploaded` after the remote copy vanished), the ID it took over
   * from; after `expired` that ID is gone or expiring (see `reason`).
   */
  previousFileId: string | null;
  /** A move's source path. */
  fromPath?: string | undefined;
  /** `held`: how many deletes the safety guard holds, and why. */
  count?: number | undefined;
  /** `held`: why; `expired`: `expired` (the old copy is gone) or `expiring` (it goes at its expires_at). */
  reason?: string | undefined;
  time: string;
}

/** Events kept per folder in files_sync.events (older ones are trimmed, like the daemon's own log). */
export const KEEP_DB_EVENTS = 10_000;

export interface PgStateStoreOptions extends PgConnectionOptions {
  folder: FolderRecord;
  /** Quiet period after the last mutation before a batch is written; default 500 ms. */
  writeDelayMs?: number;
  /** Changes are written at most this late, however busy; default 5000 ms. */
  maxWriteDelayMs?: number;
  /** A lease whose heartbeat is older may be taken over; default 10 s. */
  leaseStaleMs?: number | undefined;
  /** How often the lease is renewed; default a third of leaseStaleMs. */
  heartbeatMs?: number | undefined;
  /** Recorded in the lease (tests pose as other daemons); default this host and pid. */
  owner?: { host: string; pid: number };
  /** A background write failed; its changes stay pending and are retried. */
  onWriteError?: (error: PgWriteError) => void;
  /** Another daemon took the lease: this store writes nothing more. */
  onLeaseLost?: (error: LeaseLostError) => void;
  /**
   * A write or heartbeat could not reach the database (or no heartbeat was answered for half the
   * stale time): this store writes nothing more, since its lease may go stale and be taken while
   * it cannot tell. The folder reopens its state once the database answers again.
   */
  onUnreachable?: (error: PgConnectionError) => void;
  /** The token this daemon held before it lost touch with the database: taken back if nobody took the lease. */
  reclaimToken?: string | undefined;
}

/** The lease this store writes under, as status shows it. */
export interface HeldLease {
  ownerHost: string;
  ownerPid: number;
  token: string;
  /** When (this host's clock, ms) the last renewal that succeeded was sent. */
  renewedAt: number;
}

/** The tables of the sections kept as records, by journal section. */
const RECORD_TABLES = {
  u: { table: 'files_sync.pending_uploads', key: 'path' },
  d: { table: 'files_sync.pending_deletes', key: 'file_id' },
  s: { table: 'files_sync.suspects', key: 'file_id' },
  x: { table: 'files_sync.unsettled', key: 'attempt_key' },
} as const;

type RecordSection = keyof typeof RECORD_TABLES;

/**
 * The writable state of one folder in PostgreSQL. Reads are served from memory (loaded at open);
 * each change is applied in memory at once and written in the next batch, one transaction that
 * first renews the lease by its token: a daemon that lost the folder writes nothing at all.
 */
export class PgStateStore extends MutableStateView implements StateStore {
  private pendingOps: JournalOp[] = [];
  private pendingEvents: StateChangeEvent[] = [];
  /** Events inserted since the table was last trimmed to KEEP_DB_EVENTS. */
  private eventsSinceTrim = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly batch: WriteBatchTimer;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private writes = 0;
  /** Why this store writes nothing more (lease taken over, database unreachable); close() then only disconnects. */
  private halted: LeaseLostError | PgConnectionError | undefined;
  private renewedAt = Date.now();

  private constructor(
    file: string,
    stored: StoredManifest,
    private readonly conn: PgConnection,
    private readonly name: string,
    /** The lease token this store writes under. */
    readonly leaseToken: string,
    private readonly owner: { host: string; pid: number },
    private readonly options: PgStateStoreOptions,
  ) {
    super(file, stored);
    const quietMs = options.writeDelayMs ?? 500;
    this.batch = new WriteBatchTimer({
      quietMs,
      maxMs: Math.max(options.maxWriteDelayMs ?? 5000, quietMs),
      wanted: () =>
        (this.pendingOps.length > 0 || this.pendingEvents.length > 0) &&
        !this.closed &&
        this.halted === undefined,
      write: () => {
        this.flush().catch((err: unknown) => {
          if (err instanceof PgWriteError) this.options.onWriteError?.(err);
        });
      },
      unref: true,
    });
  }

  /**
   * Connects, brings the schema up to date, takes the folder's lease (LeaseHeldError while another
   * live daemon has it) and loads the folder's state. The folder record is created or updated
   * (root moved, workspace first known) like the embedded store does.
   */
  static async open(options: PgStateStoreOptions): Promise<PgStateStore> {
    const conn = connect(options);
    const name = options.folder.name;
    const staleMs = options.leaseStaleMs ?? DEFAULT_LEASE_STALE_MS;
    try {
      await migrateSchema(conn.pool);
      const owner = options.owner ?? { host: os.hostname(), pid: process.pid };
      const token = await acquireLease(conn.pool, name, owner, staleMs, options.reclaimToken);
      const stored = await loadFolder(conn.pool, options.folder);
      const store = new PgStateStore(
        `${conn.display}#${name}`,
        stored.manifest,
        conn,
        name,
        token,
        owner,
        options,
      );
      const f = store.folderRecord;
      let record = f;
      if (f.root !== options.folder.root) record = { ...record, root: options.folder.root };
      if (record.workspaceId === undefined && options.folder.workspaceId !== undefined) {
        record = { ...record, workspaceId: options.folder.workspaceId };
      }
      if (record !== f || !stored.existed) {
        store.change(['f', '', record]);
        await store.flush();
      } else {
        // Loading a big folder takes a while: the heartbeat's clock starts from a renewal made now.
        const sentAt = Date.now();
        if (!(await renewLease(conn.pool, name, token)))
          throw new LeaseHeldError(`folder "${name}" was taken over while its state loaded`, {
            folder: name,
          });
        store.renewedAt = sentAt;
      }
      store.startHeartbeat(options.heartbeatMs ?? Math.max(100, Math.floor(staleMs / 3)), staleMs);
      return store;
    } catch (err) {
      await conn.pool.end().catch(() => undefined);
      if (err instanceof Error && 'context' in err) throw conn.scrub(err);
      throw new PgConnectionError(
        `cannot open the state of folder "${name}" in ${conn.display}: ${conn.redact(errorMessage(err))}`,
        { folder: name, url: conn.display },
        { cause: conn.scrub(err) },
      );
    }
  }

  get writeCount(): number {
    return this.writes;
  }

  /** The workspace this state was recorded for. */
  get workspaceId(): string | null | undefined {
    return this.folderRecord.workspaceId;
  }

  /** The lease this store writes under (status shows its owner and age). */
  get lease(): HeldLease {
    return {
      ownerHost: this.owner.host,
      ownerPid: this.owner.pid,
      token: this.leaseToken,
      renewedAt: this.renewedAt,
    };
  }

  /** The pool (same database and credentials) for readers such as tests and `status`. */
  get pool(): pg.Pool {
    return this.conn.pool;
  }

  /** Forgets everything recorded for the old workspace (see Manifest.startOver), in one transaction; keeps no copy. */
  async startOver(workspaceId: string | null): Promise<undefined> {
    this.assertOpen();
    await this.flush();
    for (const p of [...this.paths()]) this.remove(p);
    for (const u of this.pendingUploads()) this.removePendingUpload(u.path);
    for (const d of this.pendingDeletes()) this.removePendingDelete(d.fileId);
    for (const s of this.suspects()) this.removeSuspect(s.fileId);
    for (const x of this.unsettled()) this.removeUnsettled(x);
    this.change(['f', '', { ...this.folderRecord, workspaceId }]);
    this.updateStats({ workspaceChangedAt: new Date().toISOString() });
    await this.flush();
    return undefined;
  }

  /**
   * Makes every change so far durable. Writes are serialised; a call waits for the write in
   * flight, then writes whatever is pending (nothing, if that write carried its changes).
   */
  flush(): Promise<void> {
    const run = this.chain.catch(() => undefined).then(() => this.writeOnce());
    this.chain = run;
    return run;
  }

  /**
   * Flushes, gives the lease up and disconnects; further mutations throw. A halted store (lease
   * lost, database unreachable) writes nothing: it only disconnects, without waiting for a
   * database that may not answer (the folder's state is reloaded from the database when reopened).
   */
  async close(): Promise<void> {
    if (this.closed) return this.chain.catch(() => undefined);
    this.closed = true;
    this.batch.stop();
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    if (this.halted !== undefined) {
      void this.conn.pool.end().catch(() => undefined);
      return;
    }
    try {
      await this.flush();
      await releaseLease(this.conn.pool, this.name, this.leaseToken);
    } finally {
      await this.conn.pool.end().catch(() => undefined);
    }
  }

  protected record(op: JournalOp): void {
    this.pendingOps.push(op);
    this.batch.changed();
  }

  /**
   * Records a change for files_sync.events, written with the next batch: in the same transaction
   * as the state change it reports when that is still pending, never before it.
   */
  recordChange(change: StateChangeEvent): void {
    this.assertOpen();
    this.pendingEvents.push(change);
    this.batch.changed();
  }

  private async writeOnce(): Promise<void> {
    if (this.halted !== undefined) throw this.halted;
    if (this.pendingOps.length === 0 && this.pendingEvents.length === 0) return;
    this.batch.writing();
    const ops = this.pendingOps;
    const events = this.pendingEvents;
    this.pendingOps = [];
    this.pendingEvents = [];
    try {
      const sentAt = Date.now();
      await this.transaction(ops, events);
      this.renewedAt = sentAt;
      this.writes++;
    } catch (err) {
      // Not written: the changes go back in front of any made meanwhile, in order.
      this.pendingOps = ops.concat(this.pendingOps);
      this.pendingEvents = events.concat(this.pendingEvents);
      if (err instanceof LeaseLostError) throw this.halt(err);
      if (isConnectionFailure(err)) throw this.halt(this.unreachable(err));
      this.batch.retry();
      throw new PgWriteError(
        `could not write the state of folder "${this.name}" to ${this.conn.display}: ${this.conn.redact(errorMessage(err))}`,
        { folder: this.name, url: this.conn.display },
        { cause: this.conn.scrub(err) },
      );
    }
  }

  /** One batch, one transaction: fence by the lease token, then each section in a statement or two. */
  private async transaction(ops: JournalOp[], events: StateChangeEvent[]): Promise<void> {
    // The last change of a key wins: every change sets or deletes a whole value by key.
    const last = new Map<string, JournalOp>();
    for (const op of ops) last.set(`${op[0]}\u0000${op[1]}`, op);
    await inTransaction(this.conn.pool, 'BEGIN', async (client) => {
      if (!(await renewLease(client, this.name, this.leaseToken))) {
        throw new LeaseLostError(
          `folder "${this.name}" is owned by another daemon now (lease token ${this.leaseToken} was taken over): this daemon stops writing`,
          { folder: this.name, token: this.leaseToken },
        );
      }
      const folderOp = [...last.values()].filter((op) => op[0] === 'f').at(-1);
      if (folderOp !== undefined) await this.writeFolder(client, folderOp[2] as FolderRecord);
      const statsOp = [...last.values()].filter((op) => op[0] === 't').at(-1);
      if (statsOp !== undefined) {
        await client.query('UPDATE files_sync.folders SET stats = $2 WHERE folder = $1', [
          this.name,
          JSON.stringify(statsOp[2] ?? {}),
        ]);
      }
      await this.writeEntries(
        client,
        [...last.values()].filter((op) => op[0] === 'e'),
      );
      for (const section of Object.keys(RECORD_TABLES) as RecordSection[]) {
        await this.writeRecords(
          client,
          section,
          [...last.values()].filter((op) => op[0] === section),
        );
      }
      await this.writeEvents(client, events);
    });
  }

  private async writeFolder(client: pg.PoolClient, record: FolderRecord): Promise<void> {
    await client.query(
      `INSERT INTO files_sync.folders (folder, root, workspace_id, record, stats) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (folder) DO UPDATE SET root = EXCLUDED.root, workspace_id = EXCLUDED.workspace_id, record = EXCLUDED.record`,
      [
        this.name,
        record.root,
        record.workspaceId ?? null,
        JSON.stringify(record),
        JSON.stringify(this.statsData),
      ],
    );
  }

  /** Upserts and deletes the changed entries and notifies consumers of each path whose file ID changed. */
  private async writeEntries(client: pg.PoolClient, ops: JournalOp[]): Promise<void> {
    if (ops.length === 0) return;
    const paths = ops.map((op) => op[1]);
    const { rows } = await client.query<{ path: string; file_id: string }>(
      'SELECT path, file_id FROM files_sync.entries WHERE folder = $1 AND path = ANY($2::text[])',
      [this.name, paths],
    );
    const before = new Map(rows.map((r) => [r.path, r.file_id]));
    const removed = ops.filter((op) => op[2] === null).map((op) => op[1]);
    const upserts = ops
      .filter((op) => op[2] !== null)
      .map(([, key, value]) => {
        const e = value as ManifestEntry;
        return {
          path: key,
          file_id: e.fileId,
          sha256: e.sha256,
          size_bytes: e.size,
          mime_type: e.mimeType,
          uploaded_at: e.uploadedAt,
          expires_at: e.expiresAt ?? null,
          mtime_ms: e.mtimeMs,
          ino: e.ino,
          remote_name: e.remoteName,
        };
      });
    if (removed.length > 0) {
      await client.query('DELETE FROM files_sync.entries WHERE folder = $1 AND path = ANY($2::text[])', [
        this.name,
        removed,
      ]);
    }
    if (upserts.length > 0) {
      await client.query(
        `INSERT INTO files_sync.entries AS e (folder, path, file_id, sha256, size_bytes, mime_type, uploaded_at,
           workspace_id, expires_at, mtime_ms, ino, remote_name)
         SELECT $1, r.path, r.file_id, r.sha256, r.size_bytes, r.mime_type, r.uploaded_at, $3, r.expires_at,
           r.mtime_ms, r.ino, r.remote_name
         FROM jsonb_to_recordset($2::jsonb) AS r(path text, file_id text, sha256 text, size_bytes bigint,
           mime_type text, uploaded_at timestamptz, expires_at timestamptz, mtime_ms float8, ino float8, remote_name text)
         ON CONFLICT (folder, path) DO UPDATE SET file_id = EXCLUDED.file_id, sha256 = EXCLUDED.sha256,
           size_bytes = EXCLUDED.size_bytes, mime_type = EXCLUDED.mime_type, uploaded_at = EXCLUDED.uploaded_at,
           workspace_id = EXCLUDED.workspace_id, expires_at = EXCLUDED.expires_at, mtime_ms = EXCLUDED.mtime_ms,
           ino = EXCLUDED.ino, remote_name = EXCLUDED.remote_name, updated_at = now()`,
        [this.name, JSON.stringify(upserts), this.folderRecord.workspaceId ?? null],
      );
    }
    const notes: string[] = [];
    for (const [, key, value] of ops) {
      const previous = before.get(key) ?? null;
      const now = value === null ? null : (value as ManifestEntry).fileId;
      if (previous === now) continue;
      const note: ChangeNotification = {
        folder: this.name,
        path: key,
        file_id: now,
        previous_file_id: previous,
      };
      notes.push(JSON.stringify(note));
    }
    if (notes.length > 0) {
      // Delivered at commit, and only if it commits: a consumer never hears of a change that was not made.
      await client.query('SELECT pg_notify($1, n) FROM unnest($2::text[]) AS n', [CHANGES_CHANNEL, notes]);
    }
  }

  /** Appends the batch's events, and now and then trims the folder's history to KEEP_DB_EVENTS. */
  private async writeEvents(client: pg.PoolClient, events: StateChangeEvent[]): Promise<void> {
    if (events.length === 0) return;
    await client.query(
      `INSERT INTO files_sync.events (folder, type, path, file_id, previous_file_id, from_path, detail, time)
       SELECT $1, r.type, r.path, r.file_id, r.previous_file_id, r.from_path, r.detail, r.time
       FROM jsonb_to_recordset($2::jsonb) AS r(ord int, type text, path text, file_id text,
         previous_file_id text, from_path text, detail jsonb, time timestamptz)
       ORDER BY r.ord`,
      [
        this.name,
        JSON.stringify(
          events.map((e, ord) => ({
            ord,
            type: e.type,
            path: e.path,
            file_id: e.fileId,
            previous_file_id: e.previousFileId,
            from_path: e.fromPath ?? null,
            detail:
              e.count !== undefined || e.reason !== undefined
                ? { count: e.count ?? null, reason: e.reason ?? null }
                : null,
            time: e.time,
          })),
        ),
      ],
    );
    this.eventsSinceTrim += events.length;
    if (this.eventsSinceTrim < 256) return;
    this.eventsSinceTrim = 0;
    await client.query(
      `DELETE FROM files_sync.events WHERE folder = $1 AND id <= (
         SELECT id FROM files_sync.events WHERE folder = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
      [this.name, KEEP_DB_EVENTS],
    );
  }

  private async writeRecords(client: pg.PoolClient, section: RecordSection, ops: JournalOp[]): Promise<void> {
    if (ops.length === 0) return;
    const { table, key } = RECORD_TABLES[section];
    const removed = ops.filter((op) => op[2] === null).map((op) => op[1]);
    const kept = ops.filter((op) => op[2] !== null);
    if (removed.length > 0) {
      await client.query(`DELETE FROM ${table} WHERE folder = $1 AND ${key} = ANY($2::text[])`, [
        this.name,
        removed,
      ]);
    }
    if (kept.length === 0) return;
    const keys = kept.map((op) => op[1]);
    const records = kept.map((op) => JSON.stringify(op[2]));
    if (section === 'd') {
      // Path and reason as columns too: an operator can see the delete queue with plain SQL.
      await client.query(
        `INSERT INTO ${table} (folder, ${key}, path, reason, record)
         SELECT $1, k, r->>'path', r->>'reason', r FROM unnest($2::text[], $3::jsonb[]) AS t(k, r)
         ON CONFLICT (folder, ${key}) DO UPDATE SET path = EXCLUDED.path, reason = EXCLUDED.reason, record = EXCLUDED.record`,
        [this.name, keys, records],
      );
      return;
    }
    await client.query(
      `INSERT INTO ${table} (folder, ${key}, record)
       SELECT $1, k, r FROM unnest($2::text[], $3::jsonb[]) AS t(k, r)
       ON CONFLICT (folder, ${key}) DO UPDATE SET record = EXCLUDED.record`,
      [this.name, keys, records],
    );
  }

  /** Stops all writing for good and tells the owner why (once); returns the reason to throw. */
  private halt(reason: LeaseLostError | PgConnectionError): LeaseLostError | PgConnectionError {
    if (this.halted !== undefined) return this.halted;
    this.halted = reason;
    this.batch.stop();
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    if (reason instanceof LeaseLostError) this.options.onLeaseLost?.(reason);
    else this.options.onUnreachable?.(reason);
    return reason;
  }

  private unreachable(err: unknown): PgConnectionError {
    return new PgConnectionError(
      `state database ${this.conn.display} unreachable for folder "${this.name}": ${this.conn.redact(errorMessage(err))}`,
      { folder: this.name, url: this.conn.display },
      { cause: this.conn.scrub(err) },
    );
  }

  /**
   * Renews the lease every `ms`. A renewal that fails to reach the database, or none answered for
   * half the stale time (a hung connection), halts the store: past `staleMs` another daemon may
   * take the folder, and this one must have stopped before that can happen.
   */
  private startHeartbeat(ms: number, staleMs: number): void {
    let inFlight = false;
    this.heartbeat = setInterval(() => {
      if (this.closed || this.halted !== undefined) return;
      const silentMs = Date.now() - this.renewedAt;
      if (silentMs > staleMs / 2) {
        this.halt(
          this.unreachable(new Error(`no lease renewal answered for ${Math.round(silentMs / 1000)} s`)),
        );
        return;
      }
      if (inFlight) return;
      inFlight = true;
      const sentAt = Date.now();
      renewLease(this.conn.pool, this.name, this.leaseToken)
        .then((held) => {
          if (held) {
            this.renewedAt = Math.max(this.renewedAt, sentAt);
            return;
          }
          this.halt(
            new LeaseLostError(
              `folder "${this.name}" is owned by another daemon now (lease token ${this.leaseToken} was taken over): this daemon stops writing`,
              { folder: this.name, token: this.leaseToken },
            ),
          );
        })
        .catch((err: unknown) => {
          // Anything else (a statement error) is retried at the next beat; the write fence decides ownership.
          if (isConnectionFailure(err) && !this.closed) this.halt(this.unreachable(err));
        })
        .finally(() => (inFlight = false));
    }, ms);
    this.heartbeat.unref();
  }

  protected assertOpen(): void {
    if (this.closed) throw new ManifestClosedError(`state ${this.file} is closed`, { file: this.file });
  }
}

/**
 * Reads a folder's whole state in the shape of a stored v3 manifest with one shard (the view's
 * input). With `onlyPath`, only that path's entry, intent and queued deletes (a one-path lookup).
 */
export async function loadFolder(
  db: pg.Pool | pg.ClientBase,
  folder: FolderRecord,
  options: { onlyPath?: string | undefined } = {},
): Promise<{ manifest: StoredManifest; existed: boolean }> {
  const name = folder.name;
  const only = options.onlyPath ?? null;
  const f = await db.query<{ record: FolderRecord; stats: ManifestStats }>(
    'SELECT record, stats FROM files_sync.folders WHERE folder = $1',
    [name],
  );
  const entries = new Map<string, ManifestEntry>();
  const e = await db.query<{
    path: string;
    file_id: string;
    sha256: string;
    size_bytes: number;
    mime_type: string;
    uploaded_at: Date;
    expires_at: Date | null;
    mtime_ms: number;
    ino: number;
    remote_name: string;
  }>(
    `SELECT path, file_id, sha256, size_bytes::float8 AS size_bytes, mime_type, uploaded_at, expires_at,
       mtime_ms, ino, remote_name FROM files_sync.entries WHERE folder = $1 AND ($2::text IS NULL OR path = $2)`,
    [name, only],
  );
  for (const r of e.rows) {
    const entry: ManifestEntry = {
      fileId: r.file_id,
      sha256: r.sha256,
      size: r.size_bytes,
      mtimeMs: r.mtime_ms,
      ino: r.ino,
      remoteName: r.remote_name,
      mimeType: r.mime_type,
      uploadedAt: r.uploaded_at.toISOString(),
    };
    if (r.expires_at !== null) entry.expiresAt = r.expires_at.toISOString();
    entries.set(r.path, shareMimeType(entry));
  }
  const records = async <T>(section: RecordSection): Promise<Record<string, T>> => {
    const { table, key } = RECORD_TABLES[section];
    const out = emptyRecord<T>();
    // Intents and queued deletes carry the path; suspects and unsettled attempts are few: all of them.
    const byPath = section === 'u' || section === 'd';
    const { rows } = await db.query<{ k: string; record: T }>(
      `SELECT ${key} AS k, record FROM ${table} WHERE folder = $1${byPath ? ' AND ($2::text IS NULL OR path = $2)' : ''}`,
      byPath ? [name, only] : [name],
    );
    for (const r of rows) out[r.k] = r.record;
    return out;
  };
  const head: ManifestHead = {
    version: MANIFEST_VERSION,
    gen: 0,
    folder: f.rows[0]?.record ?? { ...folder },
    shards: [null],
    journalFrom: 0,
    pendingUploads: await records<PendingUpload>('u'),
    pendingDeletes: await records<PendingDelete>('d'),
    suspects: await records<Suspect>('s'),
    unsettled: await records<UnsettledAttempt>('x'),
    stats: f.rows[0]?.stats ?? {},
  };
  return {
    manifest: { format: 'sharded', head, shards: [entries], journals: [] },
    existed: f.rows.length > 0,
  };
}
