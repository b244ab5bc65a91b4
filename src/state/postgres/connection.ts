// Connecting to PostgreSQL without ever showing the password: parse the URL, take the password apart, redact messages.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { errorMessage } from '../../errors.js';
import { PgConnectionError } from './errors.js';

/** Where the store connects and where its password comes from. */
export interface PgConnectionOptions {
  /** `postgres://user@host:port/db`; a password in it is accepted but never shown. */
  url: string;
  /** A file holding the password (first line); else the URL's, else PGPASSWORD (read by node-postgres). */
  passwordFile?: string | undefined;
  /** Pool size; default 3 (writes, heartbeat, a reader). */
  max?: number;
}

/** A connection pool with the means to describe it safely. */
export interface PgConnection {
  pool: pg.Pool;
  /** The URL without its password, for messages and `file`. */
  display: string;
  /** Replaces every secret in a text (the password, raw and URL-encoded). */
  redact(text: string): string;
  /** Turns any error into one whose message and stack hold no secret. */
  scrub(err: unknown): Error;
}

/** URL query parameters whose value is a secret (`password=`, `sslkey=`, ...): never shown. */
const SECRET_PARAM = /pass|secret|key/i;

/** The URL without password (and without query secrets such as `password=`). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_PARAM.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

function secretsOf(url: string, password: string | undefined): string[] {
  const out = new Set<string>();
  if (password !== undefined && password !== '') {
    out.add(password);
    out.add(encodeURIComponent(password));
  }
  try {
    const u = new URL(url);
    if (u.password !== '') {
      out.add(u.password);
      out.add(decodeURIComponent(u.password));
    }
    for (const [key, value] of u.searchParams) if (SECRET_PARAM.test(key) && value !== '') out.add(value);
  } catch {
    // An unparsable URL may hold anything: hide it whole.
    out.add(url);
  }
  if (process.env.PGPASSWORD !== undefined && process.env.PGPASSWORD !== '') out.add(process.env.PGPASSWORD);
  // Longest first, so a secret that contains another is replaced whole.
  return [...out].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

/** Opens a pool (lazily: the first query connects). */
export function connect(options: PgConnectionOptions): PgConnection {
  let password: string | undefined;
  if (options.passwordFile !== undefined) {
    try {
      password = readFileSync(options.passwordFile, 'utf8').split(/\r?\n/)[0];
    } catch (err) {
      throw new PgConnectionError(
        `cannot read the database password file ${options.passwordFile}: ${errorMessage(err)}`,
        { passwordFile: options.passwordFile },
      );
    }
  }
  const secrets = secretsOf(options.url, password);
  const redact = (text: string): string => {
    let out = text;
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  const scrub = (err: unknown): Error => {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = redact(e.message);
    if (e.stack !== undefined) e.stack = redact(e.stack);
    return e;
  };
  const display = displayUrl(options.url);
  let config: pg.PoolConfig;
  try {
    const u = new URL(options.url);
    const fromUrl = u.password === '' ? undefined : decodeURIComponent(u.password);
    // node-postgres lets the connection string override a separate `password`: put the chosen one in it.
    const chosen = password ?? fromUrl;
    u.password = chosen === undefined ? '' : encodeURIComponent(chosen);
    config = {
      connectionString: u.toString(),
      max: options.max ?? 3,
      // A database that does not answer must be noticed (the folder pauses), not waited for minutes.
      connectionTimeoutMillis: 5_000,
      // A daemon cut off mid-transaction holds the lease row locked: the server ends that
      // transaction, so a standby can take the folder once the lease is stale.
      idle_in_transaction_session_timeout: 5_000,
    };
  } catch (err) {
    throw new PgConnectionError(`invalid database URL ${display}: ${redact(errorMessage(err))}`, {
      url: display,
    });
  }
  const pool = new pg.Pool(config);
  // An idle client that loses its server emits here; without a listener node would crash the daemon.
  pool.on('error', () => undefined);
  return { pool, display, redact, scrub };
}

/**
 * Runs `fn` in one transaction (`begin` opens it) on a client of its own: committed after `fn`,
 * rolled back if anything throws.
 *
 * A client checked out of the pool has no 'error' listener (pg.Pool listens to idle clients
 * only), so a server that ends the connection between two statements (a restart, an
 * administrator's pg_terminate_backend) made node throw an unhandled 'error' event and the daemon
 * crash. Here that error is kept instead: the next statement fails with it, and the client is
 * discarded rather than returned to the pool.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  begin: string,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const keep = (err: Error): void => {
    lost ??= err;
  };
  client.on('error', keep);
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', keep);
    client.release(lost);
  }
}
