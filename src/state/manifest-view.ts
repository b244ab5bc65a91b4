// One folder's state in memory with its indexes (the read side of every store) and the mutations every writable store shares.
import type {
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  PreviousId,
  Suspect,
  UnsettledAttempt,
} from '../types.js';
import { shardOf, type StoredManifest } from './manifest-files.js';
import {
  emptyRecord,
  MANIFEST_VERSION,
  unsettledKey,
  type FolderRecord,
  type JournalOp,
  type ManifestData,
  type ManifestStats,
} from './manifest-format.js';
import type { DurableOption, StateReader } from './store.js';

/** In-memory state and its indexes; loads a stored snapshot and applies journal changes. */
export class ManifestView implements StateReader {
  protected folderRecord: FolderRecord = { name: '', root: '' };
  protected statsData: ManifestStats = {};
  /** Entries by shard (the shard a path hashes to): a snapshot serialises one without a walk over all. */
  protected shardMaps: Array<Map<string, ManifestEntry>> = [new Map()];
  protected entryCount = 0;
  protected uploads = new Map<string, PendingUpload>();
  protected deletes = new Map<string, PendingDelete>();
  protected suspectMap = new Map<string, Suspect>();
  protected unsettledMap = new Map<string, UnsettledAttempt>();
  protected byFileId = new Map<string, string>();
  /** File IDs of the pending deletes by path: previousIds looks one path up without a walk. */
  private deletesByPath = new Map<string, Set<string>>();

  constructor(
    readonly file: string,
    stored: StoredManifest,
  ) {
    this.load(stored);
  }

  get folder(): Readonly<FolderRecord> {
    return this.folderRecord;
  }

  get size(): number {
    return this.entryCount;
  }

  get(relPath: string): ManifestEntry | undefined {
    return this.shardMap(relPath).get(relPath);
  }

  has(relPath: string): boolean {
    return this.shardMap(relPath).has(relPath);
  }

  *paths(): IterableIterator<string> {
    for (const m of this.shardMaps) yield* m.keys();
  }

  *entries(): IterableIterator<[string, ManifestEntry]> {
    for (const m of this.shardMaps) yield* m.entries();
  }

  findByFileId(fileId: string): string | undefined {
    return this.byFileId.get(fileId);
  }

  get fileIdsDistinct(): boolean {
    // The index holds only IDs some entry has: as many IDs as entries means each entry's is there.
    return this.byFileId.size === this.entryCount;
  }

  pendingUploads(): PendingUpload[] {
    return [...this.uploads.values()];
  }

  pendingUpload(relPath: string): PendingUpload | undefined {
    return this.uploads.get(relPath);
  }

  pendingDeletes(): PendingDelete[] {
    return [...this.deletes.values()];
  }

  pendingDelete(fileId: string): PendingDelete | undefined {
    return this.deletes.get(fileId);
  }

  suspects(): Suspect[] {
    return [...this.suspectMap.values()];
  }

  suspect(fileId: string): Suspect | undefined {
    return this.suspectMap.get(fileId);
  }

  unsettled(): UnsettledAttempt[] {
    return [...this.unsettledMap.values()];
  }

  previousIds(relPath: string): PreviousId[] {
    const out: PreviousId[] = [];
    for (const id of this.deletesByPath.get(relPath) ?? []) {
      const d = this.deletes.get(id)!;
      if (d.reason !== 'replaced' && d.reason !== 'removed') continue;
      out.push({ fileId: d.fileId, reason: d.reason, until: d.notBefore ?? d.queuedAt });
    }
    return out.sort((a, b) => b.until.localeCompare(a.until));
  }

  stats(): Readonly<ManifestStats> {
    return this.statsData;
  }

  /** The whole state as one single-file-shaped object (tests, migration and `state export`). */
  toData(): ManifestData {
    const record = <T>(m: Map<string, T>): Record<string, T> => {
      const out = emptyRecord<T>();
      for (const [k, v] of m) out[k] = v;
      return out;
    };
    return {
      version: MANIFEST_VERSION,
      folder: { ...this.folderRecord },
      entries: recordOf(this.entries()),
      pendingUploads: record(this.uploads),
      pendingDeletes: record(this.deletes),
      suspects: record(this.suspectMap),
      unsettled: record(this.unsettledMap),
      stats: { ...this.statsData },
    };
  }

  protected load(stored: StoredManifest): void {
    this.byFileId = new Map();
    this.entryCount = 0;
    const sections = stored.format === 'single' ? stored.data : stored.head;
    this.folderRecord = { ...sections.folder };
    this.statsData = { ...(sections.stats ?? {}) };
    this.uploads = toMap(sections.pendingUploads);
    this.deletes = new Map();
    this.deletesByPath = new Map();
    for (const key in sections.pendingDeletes) this.setDelete(key, sections.pendingDeletes[key]!);
    this.suspectMap = toMap(sections.suspects);
    this.unsettledMap = toMap(sections.unsettled);
    if (stored.format === 'single') {
      this.shardMaps = [new Map()];
      for (const key in stored.data.entries) this.setEntry(key, stored.data.entries[key]!);
    } else {
      // A shard file holds exactly the paths that hash to it: its map is adopted as it was read.
      this.shardMaps = stored.shards;
      for (const m of this.shardMaps) {
        for (const [key, entry] of m) this.byFileId.set(entry.fileId, key);
        this.entryCount += m.size;
      }
    }
    if (stored.format === 'sharded') {
      for (const journal of stored.journals) for (const op of journal.ops) this.apply(op);
    }
  }

  /** Forgets every entry and record with their indexes (the folder record and stats stay). */
  protected clearRecords(): void {
    this.shardMaps = this.shardMaps.map(() => new Map<string, ManifestEntry>());
    this.entryCount = 0;
    this.byFileId = new Map();
    this.uploads = new Map();
    this.deletes = new Map();
    this.deletesByPath = new Map();
    this.suspectMap = new Map();
    this.unsettledMap = new Map();
  }

  /** Applies one change; the writer records the same change in its journal. */
  protected apply([section, key, value]: JournalOp): void {
    switch (section) {
      case 'e':
        if (value === null) this.removeEntry(key);
        else this.setEntry(key, value as ManifestEntry);
        return;
      case 'u':
        setOrDelete(this.uploads, key, value as PendingUpload | null);
        return;
      case 'd':
        this.setDelete(key, value as PendingDelete | null);
        return;
      case 's':
        setOrDelete(this.suspectMap, key, value as Suspect | null);
        return;
      case 'x':
        setOrDelete(this.unsettledMap, key, value as UnsettledAttempt | null);
        return;
      case 't':
        this.statsData = { ...((value as ManifestStats | null) ?? {}) };
        return;
      case 'f':
        if (value !== null) this.folderRecord = { ...(value as FolderRecord) };
        return;
    }
  }

  protected setEntry(relPath: string, entry: ManifestEntry): ManifestEntry | undefined {
    const m = this.shardMap(relPath);
    const previous = m.get(relPath);
    if (previous !== undefined) this.unindex(relPath, previous);
    else this.entryCount++;
    m.set(relPath, entry);
    this.byFileId.set(entry.fileId, relPath);
    return previous;
  }

  protected removeEntry(relPath: string): ManifestEntry | undefined {
    const m = this.shardMap(relPath);
    const previous = m.get(relPath);
    if (previous === undefined) return undefined;
    this.unindex(relPath, previous);
    m.delete(relPath);
    this.entryCount--;
    return previous;
  }

  protected shardMap(relPath: string): Map<string, ManifestEntry> {
    const n = this.shardMaps.length;
    return this.shardMaps[n === 1 ? 0 : shardOf(relPath, n)]!;
  }

  /** Spreads the entries over `count` shards (the count only grows, by doubling). */
  protected reshard(count: number): void {
    const old = this.shardMaps;
    this.shardMaps = Array.from({ length: count }, () => new Map<string, ManifestEntry>());
    for (const m of old) for (const [key, entry] of m) this.shardMaps[shardOf(key, count)]!.set(key, entry);
  }

  /** Records or (null) forgets a pending delete, keeping the by-path index in step. */
  private setDelete(fileId: string, value: PendingDelete | null): void {
    const before = this.deletes.get(fileId);
    if (before !== undefined) {
      const ids = this.deletesByPath.get(before.path);
      ids?.delete(fileId);
      if (ids?.size === 0) this.deletesByPath.delete(before.path);
    }
    if (value === null) {
      this.deletes.delete(fileId);
      return;
    }
    this.deletes.set(fileId, value);
    const ids = this.deletesByPath.get(value.path);
    if (ids) ids.add(fileId);
    else this.deletesByPath.set(value.path, new Set([fileId]));
  }

  private unindex(relPath: string, entry: ManifestEntry): void {
    // Only drop the index entry if it still points here (a duplicate file ID may have moved it).
    if (this.byFileId.get(entry.fileId) === relPath) this.byFileId.delete(entry.fileId);
  }
}

function toMap<T>(record: Record<string, T>): Map<string, T> {
  const m = new Map<string, T>();
  for (const key in record) m.set(key, record[key]!);
  return m;
}

function setOrDelete<T>(m: Map<string, T>, key: string, value: T | null): void {
  if (value === null) m.delete(key);
  else m.set(key, value);
}

/** A null-prototype record of key/value pairs (keys are data). */
/**
 * The mutations every writable store shares: apply the change to the in-memory view, then hand it
 * to the backend's `record` (a journal line, or a row in the next transaction). `flush` makes
 * recorded changes durable; `{ durable: true }` waits for it.
 */
export abstract class MutableStateView extends ManifestView {
  protected abstract record(op: JournalOp): void;
  protected abstract assertOpen(): void;
  abstract flush(): Promise<void>;

  set(relPath: string, entry: ManifestEntry): ManifestEntry | undefined {
    this.assertOpen();
    const previous = this.setEntry(relPath, entry);
    this.record(['e', relPath, entry]);
    return previous;
  }

  remove(relPath: string): ManifestEntry | undefined {
    this.assertOpen();
    const previous = this.removeEntry(relPath);
    if (previous !== undefined) this.record(['e', relPath, null]);
    return previous;
  }

  rename(from: string, to: string): ManifestEntry | undefined {
    this.assertOpen();
    const entry = this.get(from);
    if (entry === undefined || from === to) return undefined;
    this.remove(from);
    return this.set(to, entry);
  }

  addPendingUpload(pending: PendingUpload): void;
  addPendingUpload(pending: PendingUpload, options: DurableOption): Promise<void>;
  addPendingUpload(pending: PendingUpload, options?: DurableOption): void | Promise<void> {
    return this.changeMaybeDurable(['u', pending.path, pending], options);
  }

  removePendingUpload(relPath: string): void {
    if (this.uploads.has(relPath)) this.change(['u', relPath, null]);
  }

  addPendingDelete(pending: PendingDelete): void;
  addPendingDelete(pending: PendingDelete, options: DurableOption): Promise<void>;
  addPendingDelete(pending: PendingDelete, options?: DurableOption): void | Promise<void> {
    return this.changeMaybeDurable(['d', pending.fileId, pending], options);
  }

  removePendingDelete(fileId: string): void {
    if (this.deletes.has(fileId)) this.change(['d', fileId, null]);
  }

  addSuspect(suspect: Suspect): void;
  addSuspect(suspect: Suspect, options: DurableOption): Promise<void>;
  addSuspect(suspect: Suspect, options?: DurableOption): void | Promise<void> {
    return this.changeMaybeDurable(['s', suspect.fileId, suspect], options);
  }

  removeSuspect(fileId: string): void {
    if (this.suspectMap.has(fileId)) this.change(['s', fileId, null]);
  }

  addUnsettled(attempt: UnsettledAttempt): void;
  addUnsettled(attempt: UnsettledAttempt, options: DurableOption): Promise<void>;
  addUnsettled(attempt: UnsettledAttempt, options?: DurableOption): void | Promise<void> {
    return this.changeMaybeDurable(['x', unsettledKey(attempt), attempt], options);
  }

  removeUnsettled(attempt: Pick<UnsettledAttempt, 'path' | 'startedAt'>): void {
    const key = unsettledKey(attempt);
    if (this.unsettledMap.has(key)) this.change(['x', key, null]);
  }

  updateStats(patch: Partial<ManifestStats>): void {
    this.change(['t', '', { ...this.statsData, ...patch }]);
  }

  protected change(op: JournalOp): void {
    this.assertOpen();
    this.apply(op);
    this.record(op);
  }

  protected changeMaybeDurable(op: JournalOp, options: DurableOption | undefined): void | Promise<void> {
    this.change(op);
    return options?.durable ? this.flush() : undefined;
  }
}

export function recordOf<T>(m: Iterable<[string, T]>): Record<string, T> {
  const out = emptyRecord<T>();
  for (const [k, v] of m) out[k] = v;
  return out;
}
