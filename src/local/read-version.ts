// Reads one known version of a file (the one hashed earlier) for an upload; any other version is refused.
import { promises as nodeFs } from 'node:fs';
import { FileChangedError, notRegularFile, type FileVersion, type HashFileHandle } from './hash.js';

/** Reads of a streamed version: as large as hashFile's, so a big file costs few reads and socket writes. */
export const VERSION_CHUNK_BYTES = 1 << 20;

/** The subset of the node:fs promises API used here, so tests can pass memfs. */
export interface VersionFs {
  open(path: string, flags: 'r'): Promise<HashFileHandle>;
}

/**
 * An open file checked to be `expected` (same size, mtime and inode). Holding the descriptor pins
 * the inode, so a save by rename after the open cannot change what is read; an in-place write is
 * caught by the stat taken after the last read.
 */
export class OpenVersion {
  private constructor(
    private readonly handle: HashFileHandle,
    private readonly absPath: string,
    private readonly expected: FileVersion,
  ) {}

  /** Set once a stat of the open file matched `expected`. */
  private checked = false;

  get size(): number {
    return this.expected.size;
  }

  /** Opens `absPath` and checks it is still `expected`; FileChangedError when not (or vanished). */
  static async open(absPath: string, expected: FileVersion, fs: VersionFs = nodeFs): Promise<OpenVersion> {
    const opened = await OpenVersion.openUnchecked(absPath, expected, fs);
    try {
      await opened.checkNow();
      return opened;
    } catch (err) {
      await opened.close();
      throw err;
    }
  }

  /**
   * Opens `absPath` without a stat: for readFramed, whose stat after the read checks the version
   * (a wrong inode or any change since the hash shows there), so a small file costs one async
   * stat less. chunks() still checks before its first read.
   */
  static async openUnchecked(
    absPath: string,
    expected: FileVersion,
    fs: VersionFs = nodeFs,
  ): Promise<OpenVersion> {
    try {
      return new OpenVersion(await fs.open(absPath, 'r'), absPath, expected);
    } catch (err) {
      throw vanishedOr(err, absPath);
    }
  }

  /**
   * The whole content between `head` and `tail` in one buffer (a multipart body ready to send):
   * one allocation, one read for a small file, no copy of the content.
   */
  async readFramed(head: Uint8Array, tail: Uint8Array): Promise<Buffer> {
    const size = this.expected.size;
    const out = Buffer.allocUnsafe(head.byteLength + size + tail.byteLength);
    out.set(head, 0);
    await this.readInto(out, head.byteLength, size);
    await this.checkNow();
    out.set(tail, head.byteLength + size);
    return out;
  }

  /**
   * The content in chunks of at most `chunkBytes`; the last chunk is only handed out once the file
   * is known unchanged, so a body built from it never completes with another version's bytes.
   * The file stays open when the content is all out: stillCurrent() checks it once the answer
   * comes; the owner closes it (the upload closes it in every case).
   */
  async *chunks(chunkBytes = VERSION_CHUNK_BYTES): AsyncGenerator<Buffer> {
    // No byte of another version goes out: checked before the first read, not only after the last.
    if (!this.checked) await this.checkNow();
    let left = this.expected.size;
    while (left > 0) {
      // A fresh buffer per chunk: the socket may still hold the previous one.
      const chunk = Buffer.allocUnsafe(Math.min(chunkBytes, left));
      await this.readInto(chunk, 0, chunk.byteLength);
      left -= chunk.byteLength;
      if (left === 0) await this.checkNow();
      yield chunk;
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  private async readInto(buf: Buffer, offset: number, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(buf, offset + done, length - done, null));
      } catch (err) {
        throw vanishedOr(err, this.absPath);
      }
      if (bytesRead === 0) {
        throw new FileChangedError(`file shrank while reading it for upload: ${this.absPath}`, {
          path: this.absPath,
          expectedSize: this.expected.size,
        });
      }
      done += bytesRead;
    }
  }

  /**
   * True while the file is still `expected` and still has a name (not deleted or replaced by a
   * rename): checked on the open descriptor once the upload was answered, so a change at any time
   * before the answer is caught, as a stat of the path after the upload would.
   */
  async stillCurrent(): Promise<boolean> {
    try {
      this.check(await this.handle.stat());
      return true;
    } catch {
      return false;
    }
  }

  /** A stat of the open file against `expected`; after the last read it catches a write during the read. */
  private async checkNow(): Promise<void> {
    const st = await this.handle.stat();
    if (!st.isFile()) throw notRegularFile(this.absPath);
    this.check(st);
    this.checked = true;
  }

  private check(now: FileVersion & { nlink?: number }): void {
    const was = this.expected;
    if (now.nlink === 0) {
      throw new FileChangedError(`file deleted while reading it for upload: ${this.absPath}`, {
        path: this.absPath,
      });
    }
    if (was.size === now.size && was.mtimeMs === now.mtimeMs && was.ino === now.ino) return;
    throw new FileChangedError(`file changed since it was hashed: ${this.absPath}`, {
      path: this.absPath,
      before: { size: was.size, mtimeMs: was.mtimeMs, ino: was.ino },
      after: { size: now.size, mtimeMs: now.mtimeMs, ino: now.ino },
    });
  }
}

function vanishedOr(err: unknown, absPath: string): unknown {
  if ((err as { code?: unknown } | null)?.code !== 'ENOENT') return err;
  return new FileChangedError(`file vanished before upload: ${absPath}`, { path: absPath }, { cause: err });
}
