// Moves one folder's state between the embedded store (lowdb files) and PostgreSQL, file IDs included: nothing is uploaded again.
import { FilesSyncError } from '../errors.js';
import { acquireLock } from './lock.js';
import { Manifest, openManifest } from './manifest.js';
import type { FolderRecord, ManifestData } from './manifest-format.js';
import { PgStateStore } from './postgres/store.js';
import type { StateStore } from './store.js';

export type StateBackendName = 'lowdb' | 'postgres';

/** The target already holds state for the folder: migrating would mix two histories. */
export class StateMigrationError extends FilesSyncError {}

export interface MigrateStateOptions {
  from: StateBackendName;
  to: StateBackendName;
  /** The folder (name and root); its workspace comes from the source state. */
  folder: { name: string; root: string };
  stateDir: string;
  url: string;
  passwordFile?: string | undefined;
}

/** What was moved. */
export interface MigrateStateResult {
  entries: number;
  pendingUploads: number;
  pendingDeletes: number;
  suspects: number;
  unsettled: number;
}

/**
 * Copies a folder's whole state from one backend to the other. Both sides are held while it runs
 * (the state dir's lock, the folder's lease), so no daemon writes either meanwhile; the target must
 * be empty. The source is left as it was: once the daemon runs on the target, remove it by hand.
 */
export async function migrateFolderState(options: MigrateStateOptions): Promise<MigrateStateResult> {
  if (options.from === options.to) {
    throw new StateMigrationError(`--from and --to are both ${options.from}: nothing to migrate`, {
      from: options.from,
    });
  }
  const lock = await acquireLock(options.stateDir);
  try {
    const pgOpen = (folder: FolderRecord): Promise<PgStateStore> =>
      PgStateStore.open({ url: options.url, passwordFile: options.passwordFile, folder });
    if (options.from === 'lowdb') {
      const data = (await openManifest(options.stateDir, options.folder.name)).toData();
      const target = await pgOpen({ ...options.folder, workspaceId: data.folder.workspaceId ?? null });
      return await copyInto(data, target);
    }
    const source = await pgOpen({ ...options.folder });
    let data: ManifestData;
    try {
      data = source.toData();
      const target = await Manifest.open(
        options.stateDir,
        { ...options.folder, workspaceId: data.folder.workspaceId ?? null },
        { writeDelayMs: 60_000 },
      );
      return await copyInto(data, target);
    } finally {
      await source.close();
    }
  } finally {
    await lock.release();
  }
}

async function copyInto(data: ManifestData, target: StateStore): Promise<MigrateStateResult> {
  try {
    const busy =
      target.size +
      target.pendingUploads().length +
      target.pendingDeletes().length +
      target.suspects().length;
    if (busy > 0) {
      throw new StateMigrationError(
        `${target.file} already holds state for folder "${target.folder.name}" (${target.size} entries): refusing to mix it with the migrated one`,
        { target: target.file, entries: target.size },
      );
    }
    for (const [p, e] of Object.entries(data.entries)) target.set(p, e);
    for (const u of Object.values(data.pendingUploads)) target.addPendingUpload(u);
    for (const d of Object.values(data.pendingDeletes)) target.addPendingDelete(d);
    for (const s of Object.values(data.suspects)) target.addSuspect(s);
    for (const x of Object.values(data.unsettled)) target.addUnsettled(x);
    target.updateStats({ ...(data.stats ?? {}) });
    await target.flush();
    return {
      entries: Object.keys(data.entries).length,
      pendingUploads: Object.keys(data.pendingUploads).length,
      pendingDeletes: Object.keys(data.pendingDeletes).length,
      suspects: Object.keys(data.suspects).length,
      unsettled: Object.keys(data.unsettled).length,
    };
  } finally {
    await target.close();
  }
}
