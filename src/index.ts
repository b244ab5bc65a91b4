/**
 * files-sync as a library: look up file IDs in-process, read-only, safe while the daemon writes.
 *
 *   import { openManifest } from 'files-sync';
 *   const m = await openManifest('/var/lib/files-sync', 'docs');
 *   m.get('contracts/2026/acme.pdf')?.fileId;
 *   m.previousIds('contracts/2026/acme.pdf'); // earlier IDs still valid, each with its `until`
 *   m.lookup('contracts/2026/acme.pdf')?.block;   // ready for the Messages API
 *   for await (const change of m.changes()) console.log(change.type, change.path);
 *
 * With state in PostgreSQL (backend "postgres"; password from PGPASSWORD or a passwordFile):
 *
 *   const m = await openManifest({ url: 'postgres://reader@db/files_sync', folder: 'docs' });
 *   m.lookup('contracts/2026/acme.pdf')?.fileId;   // same answer shape as GET /v1/lookup
 *   await m.reload();                              // re-reads the folder (one transaction)
 *   // changes: LISTEN files_sync_changes (see the README, "Several hosts")
 */
export {
  openManifest,
  ChangesUnavailableError,
  type ChangesOptions,
  type LibraryManifest,
  type PostgresStateSource,
} from './serve/library.js';
export { CHANGES_CHANNEL, type ChangeNotification } from './state/postgres/store.js';
export { contentBlock, type ContentBlock } from './serve/blocks.js';
export { followEventLog, readEventLog, KEEP_EVENTS, type FollowOptions } from './serve/event-log.js';
export type { ChangeEvent, ChangeType } from './serve/change-events.js';
export type { LookupResult, PreviousId, SyncState } from './serve/lookup.js';
export type { ManifestReader, ReadonlyManifest } from './state/manifest.js';
export type {
  LocalEntry,
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  RemoteFile,
  Suspect,
  UnsettledAttempt,
} from './types.js';
export type { DaemonStatus, FolderStatus } from './status.js';
