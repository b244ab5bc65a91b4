// The state store's interface: what the engine, the CLI and consumers use, free of any one backend's specifics.
import type {
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  PreviousId,
  Suspect,
  UnsettledAttempt,
} from '../types.js';
import type { FolderRecord, ManifestStats } from './manifest-format.js';

/** Ask for the change to be durable before the returned promise resolves. */
export interface DurableOption {
  durable: true;
}

/** What a reader of one folder's state can ask; every lookup is by key, none walks the whole state. */
export interface StateReader {
  /** Where the state lives, for messages (a file, or a database and folder). */
  readonly file: string;
  readonly folder: Readonly<FolderRecord>;
  /** Number of entries (synced paths). */
  readonly size: number;
  get(relPath: string): ManifestEntry | undefined;
  has(relPath: string): boolean;
  paths(): IterableIterator<string>;
  entries(): IterableIterator<[string, ManifestEntry]>;
  /** The path recorded for a file ID. */
  findByFileId(fileId: string): string | undefined;
  /**
   * True when findByFileId knows every entry's file ID: no two entries share one (a damaged state
   * could; the index then keeps one of them, and may lose the ID when that one goes).
   */
  readonly fileIdsDistinct: boolean;
  pendingUploads(): PendingUpload[];
  pendingUpload(relPath: string): PendingUpload | undefined;
  pendingDeletes(): PendingDelete[];
  pendingDelete(fileId: string): PendingDelete | undefined;
  /** Remote files that may be ours but cannot be proven so (reported by status and verify). */
  suspects(): Suspect[];
  suspect(fileId: string): Suspect | undefined;
  /** Unanswered upload attempts whose late copy may still appear. */
  unsettled(): UnsettledAttempt[];
  /**
   * The earlier file IDs of a path that are still alive: superseded or removed, waiting for their
   * retention time before deletion. A consumer holding one may keep using it until `until`.
   */
  previousIds(relPath: string): PreviousId[];
  stats(): Readonly<ManifestStats>;
}

/**
 * One folder's writable state. Each mutation is one change; changes are made durable in batches
 * (a quiet-period timer, or flush()), and a change made with `{ durable: true }` (an intent
 * written before the request it guards) resolves once it is. One writer per folder.
 */
export interface StateStore extends StateReader {
  /** Records a path's entry; returns the entry it replaced. */
  set(relPath: string, entry: ManifestEntry): ManifestEntry | undefined;
  /** Forgets a path; returns the entry removed. */
  remove(relPath: string): ManifestEntry | undefined;
  /** Moves an entry (same remote file); returns the entry that was at `to`, now unreferenced. */
  rename(from: string, to: string): ManifestEntry | undefined;
  addPendingUpload(pending: PendingUpload): void;
  addPendingUpload(pending: PendingUpload, options: DurableOption): Promise<void>;
  removePendingUpload(relPath: string): void;
  addPendingDelete(pending: PendingDelete): void;
  addPendingDelete(pending: PendingDelete, options: DurableOption): Promise<void>;
  removePendingDelete(fileId: string): void;
  addSuspect(suspect: Suspect): void;
  addSuspect(suspect: Suspect, options: DurableOption): Promise<void>;
  removeSuspect(fileId: string): void;
  addUnsettled(attempt: UnsettledAttempt): void;
  addUnsettled(attempt: UnsettledAttempt, options: DurableOption): Promise<void>;
  removeUnsettled(attempt: Pick<UnsettledAttempt, 'path' | 'startedAt'>): void;
  /** Merges status fields into the stats. */
  updateStats(patch: Partial<ManifestStats>): void;
  /** Makes every change so far durable. */
  flush(): Promise<void>;
  /** Flushes and releases the store; further mutations throw. */
  close(): Promise<void>;
  /** Durable writes completed since open (tests and benchmarks check batching with it). */
  readonly writeCount: number;
}
