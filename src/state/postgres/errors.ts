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
