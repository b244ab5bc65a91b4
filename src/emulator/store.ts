/** The emulator's in-memory file store: metadata, listing order and cursors. */
import { DuplicateFileIdError, UnknownCursorError } from './errors.js';

/** A file record as the store keeps it; `sha256` null means "not computed yet" (seeded files). */
export interface StoredFile {
  id: string;
  filename: string;
  mimeType: string;
  sizeBytes: number;
  /** RFC 3339 with milliseconds, as sent to clients. */
  createdAt: string;
  sha256: string | null;
  downloadable: boolean;
  /** The workspace that sees the file (absent in journals written before workspaces existed). */
  workspaceId?: string | undefined;
  /** RFC 3339 expiry, or null/absent when the file never expires. */
  expiresAt?: string | null | undefined;
}

interface Entry {
  file: StoredFile;
  createdAtMs: number;
  seq: number;
  deleted: boolean;
}

interface SortKey {
  createdAtMs: number;
  seq: number;
}

/** One page of a listing, newest first. */
export interface ListPage {
  data: StoredFile[];
  hasMore: boolean;
}

/** Listing parameters; at most one cursor. */
export interface ListQuery {
  limit: number;
  afterId?: string;
  beforeId?: string;
}

function compareKeys(a: SortKey, b: SortKey): number {
  return a.createdAtMs - b.createdAtMs || a.seq - b.seq;
}

/**
 * In-memory file metadata ordered by (created_at, insertion sequence). Lookups by ID are O(1),
 * locating a cursor is O(log n) and a page costs O(limit) plus skipped tombstones, so paging
 * 100k files stays linear overall. Deleted IDs keep their sort key so an old cursor still works.
 */
export class FileStore {
  // Ascending (oldest first); deletes leave tombstones until compaction.
  private entries: Entry[] = [];
  private readonly live = new Map<string, Entry>();
  private readonly deletedKeys = new Map<string, SortKey>();
  private tombstones = 0;
  private nextSeq = 0;
  // Files with an expiry, soonest first; swept lazily by `sweep`.
  private expiries: { ms: number; id: string }[] = [];
  private readonly expiredIds = new Set<string>();
  private bytes = 0;

  /** Number of live files. */
  get size(): number {
    return this.live.size;
  }

  /** Sum of the live files' sizes (what counts against a storage quota). */
  get storedBytes(): number {
    return this.bytes;
  }

  /** Removes every file whose expiry is at or before `nowMs`; returns them. */
  sweep(nowMs: number): StoredFile[] {
    const gone: StoredFile[] = [];
    let n = 0;
    for (const { ms, id } of this.expiries) {
      if (ms > nowMs) break;
      n++;
      const f = this.delete(id);
      if (f) {
        this.expiredIds.add(id);
        gone.push(f);
      }
    }
    if (n > 0) this.expiries = this.expiries.slice(n);
    return gone;
  }

  /** True for a file removed by expiry (answered 404 file_expired rather than a plain 404). */
  isExpired(id: string): boolean {
    return this.expiredIds.has(id);
  }

  /** Adds a file; throws DuplicateFileIdError when the ID is taken (live or deleted). */
  insert(file: StoredFile): StoredFile {
    if (this.live.has(file.id) || this.deletedKeys.has(file.id)) {
      throw new DuplicateFileIdError('file ID already exists', { fileId: file.id });
    }
    const createdAtMs = Date.parse(file.createdAt);
    const entry: Entry = {
      file,
      createdAtMs: Number.isNaN(createdAtMs) ? 0 : createdAtMs,
      seq: this.nextSeq++,
      deleted: false,
    };
    const last = this.entries[this.entries.length - 1];
    if (last === undefined || compareKeys(last, entry) < 0) {
      this.entries.push(entry);
    } else {
      // Backdated (seeded) file: rare, so an O(n) splice is acceptable.
      this.entries.splice(this.lowerBound(entry), 0, entry);
    }
    this.live.set(file.id, entry);
    this.bytes += file.sizeBytes;
    const expiresMs = file.expiresAt ? Date.parse(file.expiresAt) : Number.NaN;
    if (!Number.isNaN(expiresMs)) {
      const at = this.expiries.findIndex((e) => e.ms > expiresMs);
      this.expiries.splice(at === -1 ? this.expiries.length : at, 0, { ms: expiresMs, id: file.id });
    }
    return file;
  }

  /** The live file with this ID, if any. */
  get(id: string): StoredFile | undefined {
    return this.live.get(id)?.file;
  }

  /** Deletes a live file; returns it, or undefined if it was not live. */
  delete(id: string): StoredFile | undefined {
    const entry = this.live.get(id);
    if (!entry) return undefined;
    entry.deleted = true;
    this.live.delete(id);
    this.bytes -= entry.file.sizeBytes;
    this.deletedKeys.set(id, { createdAtMs: entry.createdAtMs, seq: entry.seq });
    this.tombstones++;
    if (this.tombstones > 1024 && this.tombstones * 2 > this.entries.length) this.compact();
    return entry.file;
  }

  /** Live files, newest first. */
  all(): StoredFile[] {
    const out: StoredFile[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e && !e.deleted) out.push(e.file);
    }
    return out;
  }

  /** One page, newest first; throws UnknownCursorError for an ID never seen. */
  list(query: ListQuery): ListPage {
    const { limit } = query;
    if (query.beforeId !== undefined) {
      // Newer than the cursor: the `limit` files nearest to it, still returned newest first.
      let i = this.upperBound(this.keyOf(query.beforeId));
      const found: StoredFile[] = [];
      for (; i < this.entries.length && found.length <= limit; i++) {
        const e = this.entries[i];
        if (e && !e.deleted) found.push(e.file);
      }
      const hasMore = found.length > limit;
      return { data: found.slice(0, limit).reverse(), hasMore };
    }
    let i =
      query.afterId !== undefined ? this.lowerBound(this.keyOf(query.afterId)) - 1 : this.entries.length - 1;
    const found: StoredFile[] = [];
    for (; i >= 0 && found.length <= limit; i--) {
      const e = this.entries[i];
      if (e && !e.deleted) found.push(e.file);
    }
    const hasMore = found.length > limit;
    return { data: found.slice(0, limit), hasMore };
  }

  /** Forgets everything, including deleted IDs. */
  clear(): void {
    this.entries = [];
    this.live.clear();
    this.deletedKeys.clear();
    this.tombstones = 0;
    this.expiries = [];
    this.expiredIds.clear();
    this.bytes = 0;
  }

  private keyOf(id: string): SortKey {
    const key = this.live.get(id) ?? this.deletedKeys.get(id);
    if (!key) throw new UnknownCursorError('unknown cursor file ID', { fileId: id });
    return key;
  }

  // First index whose key is >= `key`.
  private lowerBound(key: SortKey): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.entries[mid] as Entry, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // First index whose key is > `key`.
  private upperBound(key: SortKey): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.entries[mid] as Entry, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compact(): void {
    this.entries = this.entries.filter((e) => !e.deleted);
    this.tombstones = 0;
  }
}
