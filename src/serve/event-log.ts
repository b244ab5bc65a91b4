/**
 * The durable change log behind /v1/events, Last-Event-ID and the library's change iterator:
 * `<stateDir>/events.log`, one JSON event per line, append-only. The last KEEP_EVENTS events are
 * kept in memory and on disk; once the file holds twice that many it is rewritten with the last
 * KEEP_EVENTS (atomically), so it stays bounded. Only the daemon writes it, under the state lock.
 */
import { constants } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createFileExclusive, writeFileAtomic } from '../state/atomic-write.js';
import { errorCode, errorMessage } from '../errors.js';
import { CHANGE_TYPES, type ChangeEvent, type ChangeInput, type ChangeSink } from './change-events.js';

export const EVENT_LOG_FILE = 'events.log';
/** How many events the log keeps for resuming clients (about 3 MB on disk and in memory). */
export const KEEP_EVENTS = 10_000;

/** Appends only to an existing file, never through a symlink (the file itself is made by createFileExclusive). */
const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | (constants.O_NOFOLLOW ?? 0);

export function eventLogPath(stateDir: string): string {
  return path.join(stateDir, EVENT_LOG_FILE);
}

const TYPES = new Set<string>(CHANGE_TYPES);

/** How long recorded events wait to be written together (see scheduleFlush). */
const FLUSH_DELAY_MS = 50;

/** One line of the log as an event, or undefined for a torn or foreign line (skipped, never fatal). */
export function parseEventLine(line: string): ChangeEvent | undefined {
  if (line.trim() === '') return undefined;
  try {
    const v = JSON.parse(line) as Partial<ChangeEvent> | null;
    if (!v || typeof v !== 'object' || !Number.isSafeInteger(v.id) || !TYPES.has(String(v.type)))
      return undefined;
    if (typeof v.folder !== 'string' || typeof v.time !== 'string') return undefined;
    return v as ChangeEvent;
  } catch {
    return undefined;
  }
}

/** Every event in the log file, oldest first; [] when there is no log yet. */
export async function readEventLog(stateDir: string): Promise<ChangeEvent[]> {
  let text: string;
  try {
    text = await readFile(eventLogPath(stateDir), 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  return parseEvents(text);
}

function parseEvents(text: string): ChangeEvent[] {
  const out: ChangeEvent[] = [];
  for (const line of text.split('\n')) {
    const e = parseEventLine(line);
    // Ids only grow: anything out of order is a damaged line, not an event to replay.
    if (e && (out.length === 0 || e.id > out[out.length - 1]!.id)) out.push(e);
  }
  return out;
}

export interface ReplayResult {
  events: ChangeEvent[];
  /** True when events after `afterId` have already been dropped: the client must re-read what it cached. */
  gap: boolean;
}

export type ChangeListener = (event: ChangeEvent) => void;

export interface EventLogOptions {
  keep?: number | undefined;
  /** A failed write to disk (the event still reaches live subscribers). */
  onWriteError?: ((err: unknown) => void) | undefined;
}

/** The daemon's writer of the change log; also the live fan-out to SSE clients and waiters. */
export class EventLog implements ChangeSink {
  private readonly listeners = new Set<ChangeListener>();
  private pendingLines: string[] = [];
  private writes: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private closed = false;

  private constructor(
    readonly file: string,
    private handle: FileHandle,
    private readonly memory: ChangeEvent[],
    private fileLines: number,
    private readonly keep: number,
    private readonly onWriteError: ((err: unknown) => void) | undefined,
  ) {}

  /** Opens (or creates, 0600) the log in `stateDir`; the caller holds the state-dir lock. */
  static async open(stateDir: string, options: EventLogOptions = {}): Promise<EventLog> {
    const file = eventLogPath(stateDir);
    const keep = Math.max(1, options.keep ?? KEEP_EVENTS);
    let events: ChangeEvent[];
    let lines = 0;
    try {
      const text = await readFile(file, 'utf8');
      events = parseEvents(text);
      lines = text.split('\n').filter((l) => l !== '').length;
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      await createFileExclusive(file, '');
      events = [];
    }
    const memory = events.slice(-keep);
    // A torn last line (a crash mid-append) or an oversized file is rewritten clean now.
    if (lines !== events.length || events.length > keep) {
      await writeFileAtomic(file, linesOf(memory));
      lines = memory.length;
    }
    const handle = await open(file, APPEND_FLAGS);
    return new EventLog(file, handle, memory, lines, keep, options.onWriteError);
  }

  /** The id the last event got (0 before the first). */
  get lastId(): number {
    return this.memory[this.memory.length - 1]?.id ?? 0;
  }

  /** Numbers a change, hands it to live listeners at once and queues it for the file. */
  record(change: ChangeInput): ChangeEvent {
    const event: ChangeEvent = { id: this.lastId + 1, ...change };
    this.memory.push(event);
    if (this.memory.length > this.keep) this.memory.splice(0, this.memory.length - this.keep);
    if (!this.closed) {
      this.pendingLines.push(JSON.stringify(event));
      this.scheduleFlush();
    }
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own (a closed socket); the others still hear of it.
      }
    }
    return event;
  }

  /** Events after `afterId`, oldest first, optionally of one folder. */
  since(afterId: number, folder?: string): ReplayResult {
    const first = this.memory[0];
    // Events after afterId were dropped (older than the oldest kept one), or the client knows ids
    // this log never had (the log was removed): either way its cache cannot be trusted.
    const gap = (first !== undefined && afterId < first.id - 1) || afterId > this.lastId;
    // Ids are consecutive within memory, so the start is found by arithmetic, not a scan.
    const start = first === undefined ? 0 : Math.max(0, afterId - first.id + 1);
    const events = this.memory.slice(start).filter((e) => folder === undefined || e.folder === folder);
    return { events, gap };
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Resolves once every recorded event is on disk. */
  flush(): Promise<void> {
    this.writes = this.writes.then(() => this.writeBatch());
    return this.writes;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.listeners.clear();
    await this.handle.close().catch(() => undefined);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One write (and one fsync) per FLUSH_DELAY_MS at most: a first sync records hundreds of
    // uploads a second, and a write per event loop turn cost it about 5% of its CPU. Live
    // listeners have the event already; a reader of the file sees it this much later.
    setTimeout(() => {
      this.flushScheduled = false;
      void this.flush();
    }, FLUSH_DELAY_MS);
  }

  private async writeBatch(): Promise<void> {
    if (this.pendingLines.length === 0) return;
    const lines = this.pendingLines;
    this.pendingLines = [];
    try {
      await this.handle.write(`${lines.join('\n')}\n`);
      await this.handle.datasync();
      this.fileLines += lines.length;
      if (this.fileLines >= 2 * this.keep) await this.compact();
    } catch (err) {
      this.onWriteError?.(new Error(`could not write event log ${this.file}: ${errorMessage(err)}`));
    }
  }

  private async compact(): Promise<void> {
    await writeFileAtomic(this.file, linesOf(this.memory));
    const old = this.handle;
    this.handle = await open(this.file, APPEND_FLAGS);
    await old.close().catch(() => undefined);
    this.fileLines = this.memory.length;
  }
}

function linesOf(events: readonly ChangeEvent[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join('');
}

export interface FollowOptions {
  /** Yield events with a larger id only; default: every event still in the log. */
  after?: number | undefined;
  folder?: string | undefined;
  /** Keep waiting for new events (polling the file); false stops at the end of the log. */
  follow?: boolean | undefined;
  pollMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Where a follower is in the log file: which file (inode), how far it is read, and the last line read. */
interface ReadPosition {
  ino: number;
  /** Bytes read up to and including the last complete line. */
  offset: number;
  /** That last line with its newline: still there, right before `offset`, in the same file. */
  tail: Buffer;
}

/**
 * The complete lines appended to the log since `pos`, and the new position. The file is read
 * again from the top when it is not the one read before: another inode (compaction renamed a new
 * file into place, the log was recreated), shorter than the offset (truncated), or without the
 * last line read right before the offset (rewritten in place, or an inode number reused). A torn
 * last line stays unread until it is complete.
 */
async function readNewLines(
  file: string,
  pos: ReadPosition | undefined,
): Promise<{ lines: string[]; pos: ReadPosition | undefined }> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { lines: [], pos: undefined };
    throw err;
  }
  try {
    // fstat of the open file: its inode and size belong to what is read, even if it is replaced now.
    const st = await handle.stat();
    const readAt = async (length: number, at: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buf, got, length - got, at + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    };
    let from = 0;
    if (pos !== undefined && pos.ino === st.ino && pos.offset <= st.size) {
      const tail = await readAt(pos.tail.length, pos.offset - pos.tail.length);
      if (tail.equals(pos.tail)) from = pos.offset;
    }
    if (from === st.size && pos !== undefined) return { lines: [], pos };
    const buf = await readAt(st.size - from, from);
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return { lines: [], pos: from === 0 ? undefined : pos };
    const start = buf.lastIndexOf(0x0a, end - 1) + 1;
    // Only whole lines are decoded, so a multi-byte character is never cut in two.
    const lines = buf.toString('utf8', 0, end).split('\n');
    return {
      lines,
      pos: { ino: st.ino, offset: from + end + 1, tail: Buffer.from(buf.subarray(start, end + 1)) },
    };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Reads the log file as a stream of changes, without the daemon's help: what is there, then (with
 * `follow`) new events as they are appended, reading only the bytes added since the last look. A
 * compaction (the file replaced) or a truncation is read again from the top and only unseen ids
 * are yielded.
 */
export async function* followEventLog(
  stateDir: string,
  opts: FollowOptions = {},
): AsyncGenerator<ChangeEvent> {
  const file = eventLogPath(stateDir);
  let last = opts.after ?? 0;
  let pos: ReadPosition | undefined;
  for (;;) {
    if (opts.signal?.aborted) return;
    const read = await readNewLines(file, pos);
    pos = read.pos;
    for (const line of read.lines) {
      const e = parseEventLine(line);
      if (!e || e.id <= last) continue;
      last = e.id;
      if (opts.folder === undefined || e.folder === opts.folder) yield e;
    }
    if (opts.follow !== true) return;
    await sleep(opts.pollMs ?? 200, opts.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
