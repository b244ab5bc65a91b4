// Typed errors of the PostgreSQL state store: connection, schema, lease and write failures (never carrying a password).
import { FilesSyncError } from '../../errors.js';

/** The database could not be reached or refused us; the message names the database without its password. */
export class PgConnectionError extends FilesSyncError {}

/** The schema in the database is newer than this files-sync knows, or a migration failed. */
export class PgSchemaError extends FilesSyncError {}

/** Another live daemon holds the folder's lease (its heartbeat is fresh). */
export class LeaseHeldError extends FilesSyncError {}

/**
 * This store's lease was taken over (its token is no longer the folder's): the write was refused
 * and changed nothing. The store stops writing; another daemon owns the folder now.
 */
export class LeaseLostError extends FilesSyncError {}

/** A batch could not be written; it stays pending in memory and is retried. */
export class PgWriteError extends FilesSyncError {}

/** Network errors that mean "the server is not there" rather than "it refused this statement". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * True when a query failed because the database cannot be reached (down, restarting, network),
 * not because of the statement: SQLSTATE class 08 (connection exception), 57P01-57P03 (shutting
 * down, crash recovery), socket errors, and node-postgres' own messages for a dropped connection.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  }
  if (
    /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i.test(
      err.message,
    )
  )
    return true;
  return err.cause !== undefined && err.cause !== err && isConnectionFailure(err.cause);
}
