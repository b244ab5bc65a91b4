/**
 * The library face of the consumer API: a read-only manifest that also answers lookup(path) in
 * the HTTP shape and iterates changes from the daemon's event log, in-process, no daemon needed.
 */
import path from 'node:path';
import { openManifest as openReadonlyManifest, type ReadonlyManifest } from '../state/manifest.js';
import { lookupInManifest, type LookupResult } from './lookup.js';
import { followEventLog, readEventLog } from './event-log.js';
import type { ChangeEvent } from './change-events.js';

export interface ChangesOptions {
  /** Start after this event id; default: only changes from now on. 0 = every event still in the log. */
  after?: number | undefined;
  /** Keep waiting for new changes (default true); false ends at the end of the log. */
  follow?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** How often the log file is checked while following; default 200 ms. */
  pollMs?: number | undefined;
}

export interface LibraryManifest extends ReadonlyManifest {
  /**
   * The file ID, metadata, state and Messages block of a path (relative to the folder, or
   * absolute under its root); undefined when it is not synced. State comes from the manifest
   * alone: `pending` while an upload intent is recorded, else `synced`. Call reload() to see
   * the daemon's later writes.
   */
  lookup(relOrAbsPath: string): LookupResult | undefined;
  /** This folder's changes (uploaded, replaced, moved, deleted, expired, held) from the event log. */
  changes(options?: ChangesOptions): AsyncGenerator<ChangeEvent>;
}

/**
 * Opens a folder's manifest read-only (never writes, never locks; safe while the daemon runs).
 * Throws ManifestNotFoundError if the folder has not been synced yet.
 */
export async function openManifest(stateDir: string, folderName: string): Promise<LibraryManifest> {
  const m = await openReadonlyManifest(stateDir, folderName);
  const lookup = (p: string): LookupResult | undefined => {
    const rel = path.isAbsolute(p) ? path.relative(m.folder.root, p).split(path.sep).join('/') : p;
    return lookupInManifest(folderName, m, rel);
  };
  async function* changes(options: ChangesOptions = {}): AsyncGenerator<ChangeEvent> {
    const after = options.after ?? (await readEventLog(stateDir)).at(-1)?.id ?? 0;
    yield* followEventLog(stateDir, {
      after,
      folder: folderName,
      follow: options.follow ?? true,
      signal: options.signal,
      pollMs: options.pollMs,
    });
  }
  return Object.assign(m, { lookup, changes });
}
