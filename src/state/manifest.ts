// One folder's manifest (path -> file ID, upload intents, pending deletes), batched atomic writes.
import { link, readFile, unlink } from 'node:fs/promises';
import { Low, type Adapter } from 'lowdb';
import type {
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  PreviousId,
  Suspect,
  UnsettledAttempt,
} from '../types.js';
import { removeAbandonedTempFiles, writeFileAtomic } from './atomic-write.js';
import {
  ManifestClosedError,
  ManifestCorruptError,
  ManifestNotFoundError,
  ManifestWriteError,
} from './errors.js';
import {
  emptyManifest,
  emptyRecord,
  MANIFEST_VERSION,
  migrate,
  unsettledKey,
  type ManifestData,
  type ManifestStats,
} from './manifest-format.js';
import { ensureStateDir, manifestPath } from './state-dir.js';

export { MANIFEST_VERSION, migrate, type ManifestData, type ManifestStats } from './manifest-format.js';

/** Manifest files are private: they map every synced path to a file ID. */
const MANIFEST_FILE_MODE = 0o600;

export interface ManifestOpenOptions {
  /** Quiet period after the last mutation before a write; default 500 ms. */
  writeDelayMs?: number;
  /** A dirty manifest is written at most this late, however busy; default 5000 ms. */
  maxWriteDelayMs?: number;
  /** Called when a background (debounced) write fails; the data stays dirty and is retried. */
  onWriteError?: (error: ManifestWriteError) => void;
}

/** Ask for the mutation to be on disk before the returned promise resolves. */
export interface DurableOption {
  durable: true;
}

/** What a reader of a manifest can do; shared by the writer and the read-only view. */
export interface ManifestReader {
  readonly file: string;
  readonly data: Readonly<ManifestData>;
  readonly size: number;
  get(relPath: string): ManifestEntry | undefined;
  has(relPath: string): boolean;
  paths(): IterableIterator<string>;
  entries(): IterableIterator<[string, ManifestEntry]>;
  /** The path recorded for a file ID, in O(1). */
  findByFileId(fileId: string): string | undefined;
  pendingUploads(): PendingUpload[];
  pendingDeletes(): PendingDelete[];
  /** Remote files that may be ours but cannot be proven so (reported by status and verify). */
  suspects(): Suspect[];
  /** Unanswered upload attempts whose late copy may still appear. */
  unsettled(): UnsettledAttempt[];
  /**
   * The earlier file IDs of a path that are still alive: superseded or removed, waiting for their
   * retention time before deletion. A consumer holding one may keep using it until `until`.
   */
  previousIds(relPath: string): PreviousId[];
}

/** A read-only view of a manifest file for library users. */
export interface ReadonlyManifest extends ManifestReader {
  /** Re-reads the file (sees the last completed write; never a half-written one). */
  reload(): Promise<void>;
}

/**
 * lowdb adapter with our own atomic writer. lowdb's JSONFile also renames a temp file, but it
 * does not fsync (a power cut can leave an empty manifest behind the rename) and creates files
 * with the default mode; the manifest cannot be rebuilt from the server, so it gets fsync + 0600.
 * The JSON is produced synchronously at the start of write(), so a write is a snapshot of the
 * data at the moment it was started.
 */
class ManifestFileAdapter implements Adapter<ManifestData> {
  constructor(
    readonly file: string,
    private readonly folder?: { name: string; root: string },
  ) {}

  /** The format version the last read found on disk (older ones are rewritten as current). */
  sourceVersion: number | undefined;

  async read(): Promise<ManifestData | null> {
    const found = await readManifestFile(this.file, this.folder);
    this.sourceVersion = found?.sourceVersion;
    return found?.data ?? null;
  }

  async write(data: ManifestData): Promise<void> {
    const text = JSON.stringify(data);
    await writeFileAtomic(this.file, text, { mode: MANIFEST_FILE_MODE });
  }
}

/** Reads, validates and migrates a manifest file; null when it does not exist. */
async function readManifestFile(
  file: string,
  folder?: { name: string; root: string },
): Promise<{ data: ManifestData; sourceVersion: number } | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const reason = text.trim() === '' ? 'file is empty' : `invalid JSON (${(err as Error).message})`;
    throw new ManifestCorruptError(
      `manifest ${file} is corrupt: ${reason}`,
      { file, reason },
      { cause: err },
    );
  }
  const data = migrate(raw, folder === undefined ? { file } : { file, folder });
  const version = (raw as { version?: unknown }).version;
  return { data, sourceVersion: typeof version === 'number' ? version : 0 };
}

/** Read access over ManifestData plus a file ID index; the writer keeps the index in step. */
class ManifestView implements ManifestReader {
  protected byFileId = new Map<string, string>();
  // Object.keys(entries).length is O(n); the count is kept alongside the index instead.
  protected entryCount = 0;

  constructor(
    readonly file: string,
    protected current: ManifestData,
  ) {
    this.rebuildIndex();
  }

  get data(): Readonly<ManifestData> {
    return this.current;
  }

  get size(): number {
    return this.entryCount;
  }

  get(relPath: string): ManifestEntry | undefined {
    return Object.hasOwn(this.current.entries, relPath) ? this.current.entries[relPath] : undefined;
  }

  has(relPath: string): boolean {
    return Object.hasOwn(this.current.entries, relPath);
  }

  *paths(): IterableIterator<string> {
    for (const key in this.current.entries) yield key;
  }

  *entries(): IterableIterator<[string, ManifestEntry]> {
    for (const key in this.current.entries) yield [key, this.current.entries[key]!];
  }

  findByFileId(fileId: string): string | undefined {
    return this.byFileId.get(fileId);
  }

  pendingUploads(): PendingUpload[] {
    return Object.values(this.current.pendingUploads);
  }

  pendingDeletes(): PendingDelete[] {
    return Object.values(this.current.pendingDeletes);
  }

  suspects(): Suspect[] {
    return Object.values(this.current.suspects);
  }

  unsettled(): UnsettledAttempt[] {
    return Object.values(this.current.unsettled);
  }

  previousIds(relPath: string): PreviousId[] {
    const out: PreviousId[] = [];
    for (const d of this.pendingDeletes()) {
      if (d.path !== relPath || (d.reason !== 'replaced' && d.reason !== 'removed')) continue;
      out.push({ fileId: d.fileId, reason: d.reason, until: d.notBefore ?? d.queuedAt });
    }
    return out.sort((a, b) => b.until.localeCompare(a.until));
  }

  protected rebuildIndex(): void {
    this.byFileId = new Map();
    this.entryCount = 0;
    for (const key in this.current.entries) {
      this.byFileId.set(this.current.entries[key]!.fileId, key);
      this.entryCount++;
    }
  }
}

/**
 * The writable manifest of one folder. Mutations are in memory and schedule a debounced atomic
 * write; pending intents can be made durable before the request they guard goes out. One writer
 * per state directory: hold acquireLock() while a Manifest is open.
 */
export class Manifest extends ManifestView {
  private readonly db: Low<ManifestData>;
  private readonly writeDelayMs: number;
  private readonly maxWriteDelayMs: number;
  private readonly onWriteError: ((error: ManifestWriteError) => void) | undefined;
  private dirty = false;
  private dirtySince = 0;
  private lastChangeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;
  private writes = 0;

  private constructor(db: Low<ManifestData>, file: string, options: ManifestOpenOptions) {
    super(file, db.data);
    this.db = db;
    this.writeDelayMs = options.writeDelayMs ?? 500;
    this.maxWriteDelayMs = Math.max(options.maxWriteDelayMs ?? 5000, this.writeDelayMs);
    this.onWriteError = options.onWriteError;
  }

  /**
   * Opens (or creates) `<stateDir>/<folder.name>.manifest.json`. A corrupt file throws
   * ManifestCorruptError and is left exactly as it is; a newer format throws ManifestVersionError.
   */
  static async open(
    stateDir: string,
    folder: { name: string; root: string },
    options: ManifestOpenOptions = {},
  ): Promise<Manifest> {
    const file = manifestPath(stateDir, folder.name);
    await ensureStateDir(stateDir);
    await removeAbandonedTempFiles(file);
    const initial = emptyManifest(folder);
    const adapter = new ManifestFileAdapter(file, folder);
    const db = new Low<ManifestData>(adapter, initial);
    await db.read();
    const found = db.data === initial ? null : db.data;
    if (found !== null) await keepBackup(file);
    const manifest = new Manifest(db, file, options);
    if (found === null) {
      // Create the file now so read-only users (status, library) see the folder at once.
      manifest.markDirty();
      await manifest.flush();
    } else {
      if (found.folder.name !== folder.name || found.folder.root !== folder.root) {
        // Paths are relative, so a moved folder keeps its manifest; record where it is now.
        db.data.folder = { name: folder.name, root: folder.root };
        manifest.markDirty();
      }
      // An older format is written back as the current one on the next write.
      if (adapter.sourceVersion !== MANIFEST_VERSION) manifest.markDirty();
    }
    return manifest;
  }

  /** Completed writes since open (tests and benchmarks check batching with it). */
  get writeCount(): number {
    return this.writes;
  }

  /** Records a path's entry; returns the entry it replaced. */
  set(relPath: string, entry: ManifestEntry): ManifestEntry | undefined {
    this.assertOpen();
    const previous = this.get(relPath);
    if (previous !== undefined) this.unindex(relPath, previous);
    else this.entryCount++;
    this.current.entries[relPath] = entry;
    this.byFileId.set(entry.fileId, relPath);
    this.markDirty();
    return previous;
  }

  /** Forgets a path; returns the entry removed. */
  remove(relPath: string): ManifestEntry | undefined {
    this.assertOpen();
    const previous = this.get(relPath);
    if (previous === undefined) return undefined;
    this.unindex(relPath, previous);
    delete this.current.entries[relPath];
    this.entryCount--;
    this.markDirty();
    return previous;
  }

  /**
   * Moves an entry to a new path (same remote file). Returns the entry that was at `to`, whose
   * file ID is no longer referenced and must be deleted by the caller. No-op when `from` is unknown.
   */
  rename(from: string, to: string): ManifestEntry | undefined {
    this.assertOpen();
    const entry = this.get(from);
    if (entry === undefined || from === to) return undefined;
    this.remove(from);
    return this.set(to, entry);
  }

  /** Records an upload intent; with `{ durable: true }` the promise resolves once it is on disk. */
  addPendingUpload(pending: PendingUpload): void;
  addPendingUpload(pending: PendingUpload, options: DurableOption): Promise<void>;
  addPendingUpload(pending: PendingUpload, options?: DurableOption): void | Promise<void> {
    this.assertOpen();
    this.current.pendingUploads[pending.path] = pending;
    this.markDirty();
    return options?.durable ? this.flush() : undefined;
  }

  /** Drops the upload intent of a path. */
  removePendingUpload(relPath: string): void {
    this.assertOpen();
    if (!Object.hasOwn(this.current.pendingUploads, relPath)) return;
    delete this.current.pendingUploads[relPath];
    this.markDirty();
  }

  /** Queues a remote delete; with `{ durable: true }` the promise resolves once it is on disk. */
  addPendingDelete(pending: PendingDelete): void;
  addPendingDelete(pending: PendingDelete, options: DurableOption): Promise<void>;
  addPendingDelete(pending: PendingDelete, options?: DurableOption): void | Promise<void> {
    this.assertOpen();
    this.current.pendingDeletes[pending.fileId] = pending;
    this.markDirty();
    return options?.durable ? this.flush() : undefined;
  }

  /** Drops a queued delete once the API confirmed it (or said 404). */
  removePendingDelete(fileId: string): void {
    this.assertOpen();
    if (!Object.hasOwn(this.current.pendingDeletes, fileId)) return;
    delete this.current.pendingDeletes[fileId];
    this.markDirty();
  }

  /** Records a suspect; with `{ durable: true }` the promise resolves once it is on disk. */
  addSuspect(suspect: Suspect): void;
  addSuspect(suspect: Suspect, options: DurableOption): Promise<void>;
  addSuspect(suspect: Suspect, options?: DurableOption): void | Promise<void> {
    this.assertOpen();
    this.current.suspects[suspect.fileId] = suspect;
    this.markDirty();
    return options?.durable ? this.flush() : undefined;
  }

  /** Forgets a suspect (gone from the server, or queued for deletion in an exclusive workspace). */
  removeSuspect(fileId: string): void {
    this.assertOpen();
    if (!Object.hasOwn(this.current.suspects, fileId)) return;
    delete this.current.suspects[fileId];
    this.markDirty();
  }

  /** Records an unanswered attempt; with `{ durable: true }` the promise resolves once it is on disk. */
  addUnsettled(attempt: UnsettledAttempt): void;
  addUnsettled(attempt: UnsettledAttempt, options: DurableOption): Promise<void>;
  addUnsettled(attempt: UnsettledAttempt, options?: DurableOption): void | Promise<void> {
    this.assertOpen();
    this.current.unsettled[unsettledKey(attempt)] = attempt;
    this.markDirty();
    return options?.durable ? this.flush() : undefined;
  }

  /** Drops an attempt a listing has settled. */
  removeUnsettled(attempt: Pick<UnsettledAttempt, 'path' | 'startedAt'>): void {
    this.assertOpen();
    const key = unsettledKey(attempt);
    if (!Object.hasOwn(this.current.unsettled, key)) return;
    delete this.current.unsettled[key];
    this.markDirty();
  }

  /** Merges status fields into `stats`. */
  updateStats(patch: Partial<ManifestStats>): void {
    this.assertOpen();
    this.current.stats = { ...this.current.stats, ...patch };
    this.markDirty();
  }

  /**
   * Writes now if dirty. Concurrent callers share writes: a call during a write waits for that
   * write and at most one more, which carries every mutation made in the meantime.
   */
  flush(): Promise<void> {
    if (this.inFlight !== undefined) {
      if (!this.dirty) return this.inFlight;
      this.queued ??= this.inFlight
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.flush();
        });
      return this.queued;
    }
    if (!this.dirty) return Promise.resolve();
    return this.startWrite();
  }

  /** Flushes and stops the timers; further mutations throw ManifestClosedError. */
  async close(): Promise<void> {
    if (this.closed && this.inFlight === undefined && !this.dirty) return;
    this.closed = true;
    this.clearTimer();
    await this.flush();
    while (this.inFlight !== undefined || this.queued !== undefined) await (this.queued ?? this.inFlight);
  }

  private startWrite(): Promise<void> {
    this.clearTimer();
    this.dirty = false;
    this.dirtySince = 0;
    const write = this.writeOnce().finally(() => {
      if (this.inFlight === write) this.inFlight = undefined;
    });
    this.inFlight = write;
    return write;
  }

  private async writeOnce(): Promise<void> {
    try {
      // db.write() serialises synchronously before its first await: the snapshot is taken here.
      await this.db.write();
      this.writes++;
    } catch (err) {
      this.dirty = true;
      this.dirtySince ||= Date.now();
      if (!this.closed) this.arm(Math.max(this.writeDelayMs, 1000));
      throw new ManifestWriteError(
        `could not write manifest ${this.file}: ${(err as Error).message}`,
        { file: this.file },
        { cause: err },
      );
    }
  }

  private markDirty(): void {
    const now = Date.now();
    this.lastChangeAt = now;
    if (!this.dirty) {
      this.dirty = true;
      this.dirtySince = now;
    }
    if (this.timer === undefined && !this.closed) this.arm(this.writeDelayMs);
  }

  // One timer for the whole burst: when it fires it re-arms itself for whatever remains of the
  // quiet period, capped by the max delay, instead of being reset on every mutation.
  private arm(ms: number): void {
    this.timer = setTimeout(() => this.onTimer(), ms);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.dirty || this.closed) return;
    const now = Date.now();
    const due = Math.min(this.lastChangeAt + this.writeDelayMs, this.dirtySince + this.maxWriteDelayMs);
    if (now < due) {
      this.arm(due - now);
      return;
    }
    this.flush().catch((err: unknown) => {
      if (err instanceof ManifestWriteError) this.onWriteError?.(err);
    });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private unindex(relPath: string, entry: ManifestEntry): void {
    // Only drop the index entry if it still points here (a duplicate file ID may have moved it).
    if (this.byFileId.get(entry.fileId) === relPath) this.byFileId.delete(entry.fileId);
  }

  private assertOpen(): void {
    if (this.closed) throw new ManifestClosedError(`manifest ${this.file} is closed`, { file: this.file });
  }
}

/**
 * Opens a folder's manifest read-only: reads the file, never writes, never locks. Safe while the
 * daemon writes (it renames complete files into place). Throws ManifestNotFoundError if absent.
 */
export async function openManifest(stateDir: string, folderName: string): Promise<ReadonlyManifest> {
  const file = manifestPath(stateDir, folderName);
  const view = new ManifestSnapshot(file, await readExisting(file));
  return view;
}

class ManifestSnapshot extends ManifestView implements ReadonlyManifest {
  async reload(): Promise<void> {
    this.current = await readExisting(this.file);
    this.rebuildIndex();
  }
}

async function readExisting(file: string): Promise<ManifestData> {
  const found = await readManifestFile(file);
  if (found === null) throw new ManifestNotFoundError(`no manifest at ${file}`, { file });
  return found.data;
}

/**
 * Keeps the manifest as it was when this session opened it, as `<file>.bak`: if a bug ever
 * writes bad data, the last state before it is still there. A hard link costs nothing.
 */
async function keepBackup(file: string): Promise<void> {
  const backup = `${file}.bak`;
  await unlink(backup).catch(() => undefined);
  await link(file, backup).catch(() => undefined);
}

// Re-exported so callers building records themselves get null-prototype objects.
export { emptyRecord };
