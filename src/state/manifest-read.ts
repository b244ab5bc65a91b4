// A folder's state opened read-only (the CLI, library users): no writer, no lock, no lowdb.
import type { ManifestData } from './manifest-format.js';
import { readStoredManifest, type StoredManifest } from './manifest-files.js';
import { ManifestView } from './manifest-view.js';
import { ManifestNotFoundError } from './errors.js';
import { manifestPath } from './state-dir.js';
import type { StateReader } from './store.js';

/** A read-only view of a folder's state for library users and the CLI. */
export interface ReadonlyManifest extends StateReader {
  /** Re-reads the files (sees the last completed write; never a half-written one). */
  reload(): Promise<void>;
  /** The whole state as one single-file-shaped object (export, tests). */
  toData(): ManifestData;
}

/**
 * Opens a folder's state read-only: reads the files, never writes, never locks. Safe while the
 * daemon writes. Throws ManifestNotFoundError if absent. With `onlyPath`, only that path's entry is
 * read, from the one shard holding it (a one-path lookup at any folder size): get/has/pending/
 * previousIds answer for that path, while size, entries() and findByFileId() cover only it.
 */
export async function openManifest(
  stateDir: string,
  folderName: string,
  options: { onlyPath?: string } = {},
): Promise<ReadonlyManifest> {
  const file = manifestPath(stateDir, folderName);
  const stored = await readExisting(file, options.onlyPath);
  return new ManifestSnapshot(file, stored, options.onlyPath);
}

class ManifestSnapshot extends ManifestView implements ReadonlyManifest {
  constructor(
    file: string,
    stored: StoredManifest,
    private readonly onlyPath: string | undefined,
  ) {
    super(file, stored);
  }

  async reload(): Promise<void> {
    this.load(await readExisting(this.file, this.onlyPath));
  }
}

async function readExisting(file: string, onlyPath: string | undefined): Promise<StoredManifest> {
  const stored = await readStoredManifest(file, { onlyPath });
  if (stored === null) throw new ManifestNotFoundError(`no manifest at ${file}`, { file });
  return stored;
}
