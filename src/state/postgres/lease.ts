// The folder lease: one row per folder naming its owner; taken only when free or stale, its token fences every write.
import type pg from 'pg';
import { LeaseHeldError } from './errors.js';

/** Who holds a folder, as recorded in files_sync.leases. */
export interface LeaseInfo {
  folder: string;
  ownerHost: string;
  ownerPid: number;
  /** Increases on every takeover: a write carrying an older token is refused. */
  token: string;
  /** Milliseconds since the owner's last heartbeat, by the database's clock. */
  ageMs: number;
}

/** Default: a lease whose heartbeat is older than this may be taken over. */
export const DEFAULT_LEASE_STALE_MS = 10_000;

/**
 * Takes the folder's lease if nobody holds it, its holder released it, or its heartbeat is older
 * than `staleMs` (by the database's clock, so hosts' clocks do not matter). One statement: two
 * daemons racing for it serialise on the row, and only one sees its condition true.
 * `reclaimToken`: the token this daemon held before it lost touch with the database; if nobody
 * took the lease meanwhile it is taken back at once instead of after it went stale.
 */
export async function acquireLease(
  db: pg.Pool | pg.ClientBase,
  folder: string,
  owner: { host: string; pid: number },
  staleMs: number,
  reclaimToken?: string,
): Promise<string> {
  const { rows } = await db.query<{ token: string }>(
    `INSERT INTO files_sync.leases AS l (folder, owner_host, owner_pid, token, acquired_at, heartbeat_at)
     VALUES ($1, $2, $3, 1, now(), now())
     ON CONFLICT (folder) DO UPDATE SET owner_host = EXCLUDED.owner_host, owner_pid = EXCLUDED.owner_pid,
       token = l.token + 1, acquired_at = now(), heartbeat_at = now()
     WHERE l.heartbeat_at < now() - $4 * interval '1 millisecond' OR l.token = $5::bigint
     RETURNING token::text AS token`,
    [folder, owner.host, owner.pid, staleMs, reclaimToken ?? null],
  );
  const token = rows[0]?.token;
  if (token !== undefined) return token;
  const held = await readLease(db, folder);
  throw new LeaseHeldError(
    held === undefined
      ? `folder "${folder}" is owned by another daemon`
      : `folder "${folder}" is owned by ${held.ownerHost} pid ${held.ownerPid} (heartbeat ${Math.round(held.ageMs / 1000)} s ago)`,
    { folder, ...held },
  );
}

/**
 * The folder's lease as recorded (status shows it); undefined if it was never taken. A released
 * lease (heartbeat -infinity) reads as older than any stale time: aged from 1970, not an error.
 */
export async function readLease(db: pg.Pool | pg.ClientBase, folder: string): Promise<LeaseInfo | undefined> {
  const { rows } = await db.query<{ owner_host: string; owner_pid: number; token: string; age_ms: number }>(
    `SELECT owner_host, owner_pid, token::text AS token,
       GREATEST(0, extract(epoch FROM now() - GREATEST(heartbeat_at, 'epoch'::timestamptz)) * 1000)::float8 AS age_ms
     FROM files_sync.leases WHERE folder = $1`,
    [folder],
  );
  const r = rows[0];
  return r === undefined
    ? undefined
    : { folder, ownerHost: r.owner_host, ownerPid: r.owner_pid, token: r.token, ageMs: r.age_ms };
}

/**
 * Renews the lease if `token` still holds it; false once another daemon took it. Run inside a
 * write transaction it is also the fence: it locks the row, so no takeover can slip in before commit.
 */
export async function renewLease(
  db: pg.Pool | pg.ClientBase,
  folder: string,
  token: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE files_sync.leases SET heartbeat_at = now() WHERE folder = $1 AND token = $2::bigint',
    [folder, token],
  );
  return rowCount === 1;
}

/** Gives the lease up at once (a clean stop): the row stays, so the next token is still higher. */
export async function releaseLease(
  db: pg.Pool | pg.ClientBase,
  folder: string,
  token: string,
): Promise<void> {
  await db.query(
    "UPDATE files_sync.leases SET heartbeat_at = '-infinity' WHERE folder = $1 AND token = $2::bigint",
    [folder, token],
  );
}
