/**
 * files-sync as a library: look up file IDs in-process, read-only, safe while the daemon writes.
 *
 *   import { openManifest } from 'files-sync';
 *   const m = await openManifest('/var/lib/files-sync', 'docs');
 *   m.get('contracts/2026/acme.pdf')?.fileId;
 */
export { openManifest } from './state/manifest.js';
export type { LocalEntry, ManifestEntry, PendingDelete, PendingUpload, RemoteFile } from './types.js';
export type { DaemonStatus, FolderStatus } from './status.js';
