// One folder's state in local files (the embedded store): a journal of changes plus sharded snapshots.
import { link, mkdir, readdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Low, type Adapter } from 'lowdb';
import {
  createFileExclusive,
  fsyncDirectory,
  removeAbandonedTempFiles,
  writeFileAtomic,
} from './atomic-write.js';
import { ManifestClosedError, ManifestWriteError } from './errors.js';
import { JournalWriter, journalLine } from './journal.js';
import { WriteBatchTimer } from './write-batch-timer.js';
import {
  backupDirOf,
  dataDirOf,
  journalGen,
  readStoredManifest,
  shardCountFor,
  shardFileName,
  shardOf,
  type StoredManifest,
} from './manifest-files.js';
import {
  emptyRecord,
  MANIFEST_VERSION,
  shardText,
  type FolderRecord,
  type JournalOp,
  type ManifestHead,
} from './manifest-format.js';
import { MutableStateView, recordOf } from './manifest-view.js';
import { ensureStateDir, manifestPath } from './state-dir.js';
import type { StateReader, StateStore } from './store.js';

export { MANIFEST_VERSION, migrate, type FolderRecord, type ManifestStats } from './manifest-format.js';
export type { DurableOption, StateReader, StateStore } from './store.js';
// The read-only side lives apart so that `files-sync id` loads none of the writer's modules.
export { openManifest, type ReadonlyManifest } from './manifest-read.js';

/** The reader interface under its historical name (library users import it). */
export type ManifestReader = StateReader;

export interface ManifestOpenOptions {
  /** Quiet period after the last mutation before a journal append; default 500 ms. */
  writeDelayMs?: number;
  /** Changes are appended at most this late, however busy; default 5000 ms. */
  maxWriteDelayMs?: number;
  /** Called when a background write fails; the changes stay pending and are retried. */
  onWriteError?: (error: ManifestWriteError) => void;
  /** A snapshot is taken once the journal reaches this many bytes (or 1/4 of the snapshot); default 4 MiB. */
  snapshotAfterBytes?: number;
  /** A non-empty journal is folded into a snapshot after this long without changes; default 30 s. */
  snapshotIdleMs?: number;
}

/** Files this code creates in the state dir are private: they map every synced path to a file ID. */
const FILE_MODE = 0o600;

/**
 * The head is a lowdb document written through this adapter: lowdb's own JSONFile renames a temp
 * file too, but neither fsyncs (a power cut can leave an empty head behind the rename) nor creates
 * the file 0600. Reading goes through readStoredManifest, which also follows the shards and journals.
 */
class HeadFileAdapter implements Adapter<ManifestHead> {
  constructor(private readonly file: string) {}

  read(): Promise<ManifestHead | null> {
    return Promise.resolve(null);
  }

  async write(head: ManifestHead): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(head), { mode: FILE_MODE });
  }
}

function emptyStoredHead(folder: FolderRecord): ManifestHead {
  return {
    version: MANIFEST_VERSION,
    gen: 0,
    folder: { ...folder },
    shards: [null],
    journalFrom: 0,
    pendingUploads: emptyRecord(),
    pendingDeletes: emptyRecord(),
    suspects: emptyRecord(),
    unsettled: emptyRecord(),
    stats: {},
  };
}

function emptyStored(folder: FolderRecord): StoredManifest {
  return { format: 'sharded', head: emptyStoredHead(folder), shards: [new Map()], journals: [] };
}

/**
 * The writable state of one folder. A change is applied in memory at once and appended to the
 * journal in the next batch (one line, fdatasynced): its cost follows the change, not the folder.
 * Now and then the journal is folded into a snapshot that rewrites only the shards it touched,
 * then the head that names them. One writer per state directory: hold acquireLock() meanwhile.
 */
export class Manifest extends MutableStateView implements StateStore {
  private readonly dir: string;
  private readonly headDb: Low<ManifestHead>;
  private readonly batch: WriteBatchTimer;
  private readonly snapshotAfterBytes: number;
  private readonly snapshotIdleMs: number;
  private readonly onWriteError: ((error: ManifestWriteError) => void) | undefined;
  private shardFiles: Array<string | null>;
  private snapshotGen: number;
  private nextGen: number;
  private journal: JournalWriter;
  private pendingOps: JournalOp[] = [];
  private dirtyShards = new Set<number>();
  private snapshotBytes = 0;
  /** Set when the files vanished under us (state dir removed): the next write is a whole snapshot. */
  private needFullSnapshot = false;
  private seq = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private snapshotting: Promise<void> | undefined;
  /** While a snapshot holds changes no journal line has: resolves once they are durable or back in pendingOps. */
  private folding: Promise<void> | undefined;
  private closed = false;
  private writes = 0;
  private snapshots = 0;

  private constructor(file: string, stored: StoredManifest, options: ManifestOpenOptions) {
    super(file, stored);
    this.dir = dataDirOf(file);
    this.headDb = new Low<ManifestHead>(new HeadFileAdapter(file), emptyStoredHead(this.folderRecord));
    const quietMs = options.writeDelayMs ?? 500;
    this.batch = new WriteBatchTimer({
      quietMs,
      maxMs: Math.max(options.maxWriteDelayMs ?? 5000, quietMs),
      wanted: () => this.hasPending() && !this.closed,
      write: () => {
        this.flush().catch((err: unknown) => {
          if (err instanceof ManifestWriteError) this.onWriteError?.(err);
        });
      },
    });
    this.snapshotAfterBytes = options.snapshotAfterBytes ?? 4 * 1024 * 1024;
    this.snapshotIdleMs = options.snapshotIdleMs ?? 30_000;
    this.onWriteError = options.onWriteError;
    if (stored.format === 'sharded') {
      this.shardFiles = [...stored.head.shards];
      this.snapshotGen = stored.head.gen;
      const lastJournal = stored.journals.at(-1)?.gen ?? 0;
      this.nextGen = Math.max(stored.head.gen, stored.head.journalFrom, lastJournal) + 1;
    } else {
      this.shardFiles = [null];
      this.snapshotGen = 0;
      this.nextGen = 1;
    }
    this.journal = new JournalWriter(this.dir, this.allocGen());
  }

  /**
   * Opens (or creates) the state of `folder` in `stateDir`. A corrupt file throws
   * ManifestCorruptError and is left exactly as it is; a newer format throws ManifestVersionError.
   * An older format, or changes left in a journal, are folded into a fresh snapshot at once.
   */
  static async open(
    stateDir: string,
    folder: FolderRecord,
    options: ManifestOpenOptions = {},
  ): Promise<Manifest> {
    const file = manifestPath(stateDir, folder.name);
    await ensureStateDir(stateDir);
    await removeAbandonedTempFiles(file);
    const stored = await readStoredManifest(file, { folder });
    const dir = dataDirOf(file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const manifest = new Manifest(file, stored ?? emptyStored(folder), options);
    // Files no head names (a snapshot that died before its head) go first, so their names are free.
    await manifest.removeOrphans();
    if (stored?.format === 'sharded') {
      for (const journal of stored.journals) {
        for (const [section, key] of journal.ops) {
          if (section === 'e') manifest.dirtyShards.add(shardOf(key, manifest.shardFiles.length));
          else manifest.headChanged = true;
        }
      }
    }
    const moved = manifest.folderRecord.name !== folder.name || manifest.folderRecord.root !== folder.root;
    // Paths are relative, so a moved folder keeps its state; record where it is now.
    if (moved) manifest.folderRecord = { ...manifest.folderRecord, name: folder.name, root: folder.root };
    if (manifest.folderRecord.workspaceId === undefined && folder.workspaceId !== undefined) {
      manifest.folderRecord = { ...manifest.folderRecord, workspaceId: folder.workspaceId };
      manifest.headChanged = true;
    }
    // A format older than this one is rewritten whole at once, so every shard is read fast from now on.
    const older = stored !== null && (stored.format === 'single' || stored.head.version < MANIFEST_VERSION);
    if (stored?.format === 'single') {
      // The single file is kept as it was, so a downgrade or a bug report still has it.
      await keepBackup(file, [file]);
    } else if (older) {
      // So are the older shards and journals, which the rewrite removes.
      await manifest.backupCurrent(stored?.journals.map((j) => j.file));
    }
    const replayed = stored?.format === 'sharded' && stored.journals.length > 0;
    if (stored === null || older || replayed || moved || manifest.headChanged) {
      if (stored === null || older) manifest.markAllDirty();
      await manifest.snapshot();
    }
    if (!older) await manifest.backupCurrent();
    return manifest;
  }

  private headChanged = false;

  /** Durable writes (journal appends and snapshots) completed since open. */
  get writeCount(): number {
    return this.writes;
  }

  /** Snapshots written since open (benchmarks report it). */
  get snapshotCount(): number {
    return this.snapshots;
  }

  /** The workspace this state was recorded for (see Manifest.open and startOver). */
  get workspaceId(): string | null | undefined {
    return this.folderRecord.workspaceId;
  }

  /**
   * Forgets everything recorded for the old workspace and records the new one: IDs of another
   * workspace are neither reachable nor ours to delete from this one, so the folder starts over as
   * if new (its files are uploaded again). The old state stays in the backup taken at open, whose
   * directory is returned.
   */
  async startOver(workspaceId: string | null): Promise<string> {
    this.assertOpen();
    await this.flush();
    this.clearRecords();
    this.folderRecord = { ...this.folderRecord, workspaceId };
    this.statsData = { ...this.statsData, workspaceChangedAt: new Date().toISOString() };
    this.markAllDirty();
    await this.snapshot();
    return backupDirOf(this.file);
  }

  /**
   * Makes every change so far durable. Concurrent callers share writes: a call during a write
   * waits for that write and at most one more, which carries every change made in the meantime.
   */
  flush(): Promise<void> {
    if (this.folding !== undefined && !this.hasPending()) return this.folding;
    if (this.inFlight !== undefined) {
      if (!this.hasPending()) return this.inFlight;
      this.queued ??= this.inFlight
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.flush();
        });
      return this.queued;
    }
    if (!this.hasPending()) return Promise.resolve();
    return this.startWrite();
  }

  /** Flushes, folds the journal into a snapshot and stops the timers; further mutations throw. */
  async close(): Promise<void> {
    if (this.closed && this.inFlight === undefined && !this.hasPending()) return;
    this.closed = true;
    this.clearTimers();
    await this.flush();
    while (this.inFlight !== undefined || this.queued !== undefined) await (this.queued ?? this.inFlight);
    await this.snapshotting;
    // A clean close leaves only head and shards: the next open reads no journal.
    if (this.journal.bytes > 0 || this.dirtyShards.size > 0) await this.snapshot();
    await this.journal.close();
  }

  /**
   * Folds everything into a new snapshot: the shards changed since the last one (all of them when
   * the shard count grows), then the head naming them; then removes what the old head named.
   * Changes made meanwhile go to a new journal generation, replayed over this snapshot.
   */
  snapshot(): Promise<void> {
    const run = (this.snapshotting ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.snapshotOnce());
    const tracked = run.finally(() => {
      if (this.snapshotting === tracked) this.snapshotting = undefined;
    });
    this.snapshotting = tracked;
    return tracked;
  }

  private async snapshotOnce(): Promise<void> {
    while (this.inFlight !== undefined || this.queued !== undefined) {
      await (this.queued ?? this.inFlight)?.catch(() => undefined);
    }
    const gen = this.allocGen();
    const oldJournal = this.journal;
    // Every change from here on is replayed over this snapshot (idempotent: set or delete by key).
    this.journal = new JournalWriter(this.dir, gen);
    // Changes not yet appended are in this snapshot: they need no journal line, but a flush()
    // meanwhile must wait for the snapshot that makes them durable (see flush).
    const folded = this.pendingOps;
    this.pendingOps = [];
    let settle!: () => void;
    this.folding = new Promise<void>((resolve) => (settle = resolve));
    const count = shardCountFor(this.entryCount, this.shardFiles.length);
    const reshard = count !== this.shardFiles.length;
    const dirty = reshard ? allShards(count) : this.dirtyShards;
    this.dirtyShards = new Set();
    const full = this.needFullSnapshot;
    this.needFullSnapshot = false;
    const written: string[] = [];
    const shardFiles: Array<string | null> = reshard
      ? new Array<string | null>(count).fill(null)
      : [...this.shardFiles];
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      if (reshard) this.reshard(count);
      for (const shard of full ? allShards(count) : dirty) {
        const content = this.shardMaps[shard]!;
        if (content.size === 0) {
          shardFiles[shard] = null;
          continue;
        }
        const name = shardFileName(shard, gen);
        const text = shardText(shard, count, content);
        await createFileExclusive(path.join(this.dir, name), text, FILE_MODE);
        written.push(name);
        shardFiles[shard] = name;
      }
      if (written.length > 0) await fsyncDirectory(this.dir);
      const head: ManifestHead = {
        version: MANIFEST_VERSION,
        gen,
        folder: this.folderRecord,
        shards: shardFiles,
        journalFrom: gen,
        pendingUploads: recordOf(this.uploads),
        pendingDeletes: recordOf(this.deletes),
        suspects: recordOf(this.suspectMap),
        unsettled: recordOf(this.unsettledMap),
        stats: this.statsData,
      };
      this.headDb.data = head;
      await this.headDb.write();
    } catch (err) {
      for (const d of dirty) this.dirtyShards.add(d);
      if (full) this.needFullSnapshot = true;
      this.pendingOps = folded.concat(this.pendingOps);
      this.folding = undefined;
      settle();
      // Nothing is appended to the old generation any more; it stays on disk until a snapshot lands.
      await oldJournal.close();
      for (const name of written) await unlink(path.join(this.dir, name)).catch(() => undefined);
      throw new ManifestWriteError(
        `could not write manifest ${this.file}: ${(err as Error).message}`,
        { file: this.file },
        { cause: err },
      );
    }
    this.folding = undefined;
    settle();
    const replaced = this.shardFiles.filter((f): f is string => f !== null && !shardFiles.includes(f));
    this.shardFiles = shardFiles;
    this.snapshotGen = gen;
    this.headChanged = false;
    this.writes++;
    this.snapshots++;
    // An estimate is enough (it only decides when a journal counts as big): ~300 bytes an entry.
    this.snapshotBytes = this.entryCount * 300;
    await oldJournal.close();
    for (const name of replaced) await unlink(path.join(this.dir, name)).catch(() => undefined);
    await this.removeJournalsBefore(gen);
  }

  protected record(op: JournalOp): void {
    this.pendingOps.push(op);
    // The shard the entry is in now: while a snapshot reshards, shardFiles still has the old count,
    // and a path marked under it would not be written by the next snapshot (the entry was lost
    // once its journal was folded).
    if (op[0] === 'e') this.dirtyShards.add(shardOf(op[1], this.shardMaps.length));
    else this.headChanged = true;
    this.batch.changed();
  }

  private hasPending(): boolean {
    return this.pendingOps.length > 0 || this.needFullSnapshot;
  }

  private startWrite(): Promise<void> {
    this.batch.writing();
    // A whole snapshot is serialised by snapshot() itself, and waits for appends: not one of them.
    if (this.needFullSnapshot) return this.snapshotAfterLoss();
    const write = this.appendOnce().finally(() => {
      if (this.inFlight === write) this.inFlight = undefined;
    });
    this.inFlight = write;
    return write;
  }

  private async snapshotAfterLoss(): Promise<void> {
    const ops = this.pendingOps;
    this.pendingOps = [];
    try {
      await this.snapshot();
    } catch (err) {
      this.pendingOps = ops.concat(this.pendingOps);
      this.batch.retry();
      throw err;
    }
  }

  private async appendOnce(): Promise<void> {
    const ops = this.pendingOps;
    this.pendingOps = [];
    try {
      if (this.journal.unusable) this.journal = new JournalWriter(this.dir, this.allocGen());
      await this.journal.append(journalLine(++this.seq, ops));
      if (!(await this.journal.stillLinked())) {
        // Someone removed the state files: what the journal holds is lost with them.
        this.needFullSnapshot = true;
        throw new Error('the state files were removed while open; writing them again in full');
      }
      this.writes++;
    } catch (err) {
      // The data directory itself is gone: the shards went with it, so the next write is whole.
      if ((err as { code?: unknown }).code === 'ENOENT') this.needFullSnapshot = true;
      this.pendingOps = ops.concat(this.pendingOps);
      this.batch.retry();
      throw new ManifestWriteError(
        `could not write manifest ${this.file}: ${(err as Error).message}`,
        { file: this.file },
        { cause: err },
      );
    }
    this.afterAppend();
  }

  private afterAppend(): void {
    if (this.closed) return;
    if (this.journal.bytes >= Math.max(this.snapshotAfterBytes, this.snapshotBytes / 4)) {
      this.snapshotInBackground();
      return;
    }
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.closed && this.journal.bytes > 0) this.snapshotInBackground();
    }, this.snapshotIdleMs);
    this.idleTimer.unref();
  }

  private snapshotInBackground(): void {
    if (this.snapshotting !== undefined) return;
    this.snapshot().catch((err: unknown) => {
      if (err instanceof ManifestWriteError) this.onWriteError?.(err);
    });
  }

  private markAllDirty(): void {
    for (let i = 0; i < this.shardFiles.length; i++) this.dirtyShards.add(i);
    this.headChanged = true;
  }

  private allocGen(): number {
    return this.nextGen++;
  }

  private async removeJournalsBefore(gen: number): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const g = journalGen(name);
      if (g !== undefined && g < gen) await unlink(path.join(this.dir, name)).catch(() => undefined);
    }
  }

  /** Shard files no head names (a snapshot that died before its head) and folded journals. */
  private async removeOrphans(): Promise<void> {
    const named = new Set(this.shardFiles.filter((f): f is string => f !== null));
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.startsWith('entries-') && !named.has(name))
        await unlink(path.join(this.dir, name)).catch(() => undefined);
    }
    await this.removeJournalsBefore(this.snapshotGen);
  }

  /**
   * Hard links to the files as opened, in `<name>.manifest.bak/`: the state before this session's
   * first write (with `journals`, the journal files it has not folded yet).
   */
  private async backupCurrent(journals: string[] = []): Promise<void> {
    const shards = this.shardFiles.filter((f): f is string => f !== null).map((f) => path.join(this.dir, f));
    await keepBackup(this.file, [this.file, ...shards, ...journals]);
  }

  private clearTimers(): void {
    this.batch.stop();
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  protected assertOpen(): void {
    if (this.closed) throw new ManifestClosedError(`manifest ${this.file} is closed`, { file: this.file });
  }
}

function allShards(count: number): Set<number> {
  return new Set(Array.from({ length: count }, (_, i) => i));
}

/**
 * Keeps the state as this session opened it in `<name>.manifest.bak/`, laid out like a state dir
 * (openManifest(bakDir, name) reads it): if a bug ever writes bad data, the last state before it
 * is still there. Hard links cost nothing, and shard files are never rewritten in place.
 */
async function keepBackup(file: string, files: string[]): Promise<void> {
  const bak = backupDirOf(file);
  await rm(bak, { recursive: true, force: true }).catch(() => undefined);
  const bakData = path.join(bak, path.basename(dataDirOf(file)));
  await mkdir(bakData, { recursive: true, mode: 0o700 }).catch(() => undefined);
  for (const f of files) {
    const target = f === file ? path.join(bak, path.basename(file)) : path.join(bakData, path.basename(f));
    await link(f, target).catch(() => undefined);
  }
}

export { emptyRecord };
