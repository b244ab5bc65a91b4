import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Prefix and suffix of the temp files writeFileAtomic leaves behind only if the process dies mid-write. */
export function tempFilePattern(file: string): { prefix: string; suffix: string } {
  return { prefix: `.${path.basename(file)}.`, suffix: '.tmp' };
}

/**
 * Replaces `file` with `data` so that a reader or a crash sees either the old or the new content:
 * temp file in the same directory (created with `mode`, so never briefly world-readable), write,
 * fsync, rename over the target, fsync the directory so the rename itself survives power loss.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  const dir = path.dirname(file);
  const { prefix, suffix } = tempFilePattern(file);
  const tmp = path.join(dir, `${prefix}${process.pid}.${randomBytes(4).toString('hex')}${suffix}`);
  try {
    const handle = await open(tmp, 'wx', options.mode ?? 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(dir);
}

/** fsyncs a directory; some file systems refuse (EINVAL, EISDIR, EPERM), which is not worth failing for. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}
