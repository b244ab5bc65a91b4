/** Optional persistence for the emulator: a journal of metadata and content files in --data-dir. */
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  openSync,
  readFileSync,
  writeSync,
  type WriteStream,
} from 'node:fs';
import { mkdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { StoredFile } from './store.js';

const JOURNAL = 'journal.jsonl';
const CONTENT_DIR = 'content';

/** One line of the metadata journal. */
export type JournalRecord = { op: 'add'; file: StoredFile } | { op: 'delete'; id: string };

/** A content file being written; commit makes it visible under its ID, abort removes it. */
export interface ContentWriter {
  stream: WriteStream;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * The emulator's data directory: an append-only JSONL journal of adds and deletes plus one content
 * file per ID. Appends are synchronous so a record is on disk before its response is sent.
 */
export class DataDirectory {
  private fd: number | null = null;

  private constructor(readonly dir: string) {}

  /** Creates the directory layout if needed and opens the journal for appending. */
  static async open(dir: string): Promise<DataDirectory> {
    await mkdir(join(dir, CONTENT_DIR), { recursive: true });
    const d = new DataDirectory(dir);
    d.fd = openSync(join(dir, JOURNAL), 'a', 0o600);
    // A crash mid-append leaves a torn last line without its newline; end it, or the next record
    // would be glued onto it and lost on the next replay too.
    const journal = join(dir, JOURNAL);
    const text = existsSync(journal) ? readFileSync(journal, 'utf8') : '';
    if (text.length > 0 && !text.endsWith('\n')) writeSync(d.fd, '\n');
    return d;
  }

  /** Replays the journal; a torn last line (crash mid-write) is ignored. */
  readJournal(): JournalRecord[] {
    const path = join(this.dir, JOURNAL);
    if (!existsSync(path)) return [];
    const out: JournalRecord[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as JournalRecord);
      } catch {
        // Only the last line can be torn; anything unparseable is skipped rather than fatal.
      }
    }
    return out;
  }

  /** Appends one record. */
  append(record: JournalRecord): void {
    if (this.fd === null) return;
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  /** Where the content of `id` lives. */
  contentPath(id: string): string {
    return join(this.dir, CONTENT_DIR, id);
  }

  /** True when content for `id` is on disk. */
  hasContent(id: string): boolean {
    return existsSync(this.contentPath(id));
  }

  /** Streams the stored content of `id`. */
  readContent(id: string): Readable {
    return createReadStream(this.contentPath(id));
  }

  /** Starts writing the content of `id` to a temporary file. */
  createContentWriter(id: string): ContentWriter {
    const final = this.contentPath(id);
    const temp = `${final}.partial`;
    const stream = createWriteStream(temp, { mode: 0o600 });
    const closed = new Promise<void>((resolve, reject) => {
      stream.once('close', resolve);
      stream.once('error', reject);
    });
    return {
      stream,
      async commit() {
        stream.end();
        await closed;
        await rename(temp, final);
      },
      async abort() {
        stream.destroy();
        await closed.catch(() => undefined);
        await rm(temp, { force: true });
      },
    };
  }

  /** Removes the content of `id` if present. */
  async removeContent(id: string): Promise<void> {
    await unlink(this.contentPath(id)).catch(() => undefined);
  }

  /** Deletes every file and content (POST /_emulator/reset). */
  async wipe(): Promise<void> {
    this.closeJournal();
    await rm(join(this.dir, CONTENT_DIR), { recursive: true, force: true });
    await rm(join(this.dir, JOURNAL), { force: true });
    await mkdir(join(this.dir, CONTENT_DIR), { recursive: true });
    this.fd = openSync(join(this.dir, JOURNAL), 'a', 0o600);
  }

  /** Closes the journal. */
  closeJournal(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
