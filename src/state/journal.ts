// Appends batches of manifest changes to one journal file, each durable (fdatasync) before its promise resolves.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { CREATE_NEW_FLAGS, fsyncDirectory } from './atomic-write.js';
import { journalFileName } from './manifest-files.js';
import type { JournalOp } from './manifest-format.js';

// A new generation's file must not exist yet (CREATE_NEW_FLAGS: O_EXCL, no symlink followed); appends only.
const CREATE_FLAGS = CREATE_NEW_FLAGS | constants.O_APPEND;

/** The line one batch becomes: `[seq, op, op, ...]` and a newline, so a torn write is never a valid line. */
export function journalLine(seq: number, ops: readonly JournalOp[]): string {
  return `${JSON.stringify([seq, ...ops])}\n`;
}

/** One generation's journal file, created on the first append. Appends must not overlap (the manifest chains them). */
export class JournalWriter {
  readonly file: string;
  private handle: FileHandle | undefined;
  private written = 0;
  private broken = false;

  constructor(
    dir: string,
    readonly gen: number,
  ) {
    this.file = path.join(dir, journalFileName(gen));
  }

  /** Bytes appended so far. */
  get bytes(): number {
    return this.written;
  }

  /**
   * True after a failed append: the file may end in a partial line, so the manifest moves on to
   * a new generation rather than append after it (readers ignore only a torn last line).
   */
  get unusable(): boolean {
    return this.broken;
  }

  async append(line: string): Promise<void> {
    try {
      if (this.handle === undefined) {
        this.handle = await open(this.file, CREATE_FLAGS, 0o600);
        // The new name itself must survive a power cut, not only its content.
        await fsyncDirectory(path.dirname(this.file));
      }
      const buffer = Buffer.from(line, 'utf8');
      let offset = 0;
      while (offset < buffer.length) {
        const { bytesWritten } = await this.handle.write(buffer, offset, buffer.length - offset);
        offset += bytesWritten;
      }
      await this.handle.datasync();
      this.written += buffer.length;
    } catch (err) {
      this.broken = true;
      throw err;
    }
  }

  /** False once the file was unlinked under us (its appends would then vanish with it). */
  async stillLinked(): Promise<boolean> {
    if (this.handle === undefined) return true;
    return (await this.handle.stat()).nlink > 0;
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
  }
}
