/**
 * files-sync as a library: look up file IDs in-process, read-only, safe while the daemon writes.
 *
 *   import { openManifest } from 'files-sync';
 *   const m = await openManifest('/var/lib/files-sync', 'docs');
 *   m.get('contracts/2026/acme.pdf')?.fileId;
 *   m.previousIds('contracts/2026/acme.pdf'); // earlier IDs still valid, each with its `until`
 */
export { openManifest, type ManifestReader, type ReadonlyManifest } from './state/manifest.js';
export type {
  LocalEntry,
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  PreviousId,
  RemoteFile,
  Suspect,
  UnsettledAttempt,
} from './types.js';
export type { DaemonStatus, FolderStatus } from './status.js';
