// The one way files-sync creates files in its state dir: random temp names, exclusive create, 0600, no symlink following.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from './process.js';

/**
 * O_EXCL already refuses an existing name, a symlink included (dangling or not); O_NOFOLLOW says
 * the same once more for platforms or future flags where that would not hold. Windows has no
 * O_NOFOLLOW, so it is 0 there.
 */
export const CREATE_NEW_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/** Prefix and suffix of the temp files writeFileAtomic leaves behind only if the process dies mid-write. */
export function tempFilePattern(file: string): { prefix: string; suffix: string } {
  return { prefix: `.${path.basename(file)}.`, suffix: '.tmp' };
}

/**
 * A temp name next to `file` that nobody can predict (the state dir may be shared with a hostile
 * user: a name known in advance lets them plant a symlink there). The pid in it lets
 * removeAbandonedTempFiles tell a dead writer's leftovers from a live one's.
 */
export function tempPathFor(file: string): string {
  const { prefix, suffix } = tempFilePattern(file);
  return path.join(path.dirname(file), `${prefix}${process.pid}.${randomBytes(8).toString('hex')}${suffix}`);
}

/**
 * Creates `file` with `data`, failing with EEXIST if anything (a symlink included) is already
 * there. The content is fsynced before the handle closes.
 */
export async function createFileExclusive(
  file: string,
  data: string | Uint8Array,
  mode: number = 0o600,
): Promise<void> {
  const handle = await open(file, CREATE_NEW_FLAGS, mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `data` so that a reader or a crash sees either the old or the new content:
 * temp file in the same directory (created exclusively with `mode`, so never briefly
 * world-readable and never through a planted symlink), write, fsync, rename over the target
 * (rename replaces a symlink there rather than following it), fsync the directory so the rename
 * itself survives power loss.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number | undefined } = {},
): Promise<void> {
  const tmp = tempPathFor(file);
  try {
    await createFileExclusive(tmp, data, options.mode ?? 0o600);
    await rename(tmp, file);
  } catch (err) {
    // Only our own temp file: if the create failed with EEXIST the name is someone else's.
    if ((err as { code?: unknown }).code !== 'EEXIST') await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(path.dirname(file));
}

/** Removes temp files of `file` left by writers that died mid-write (their pid is gone). */
export async function removeAbandonedTempFiles(file: string): Promise<void> {
  const dir = path.dirname(file);
  const { prefix, suffix } = tempFilePattern(file);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(suffix)) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid === process.pid || isProcessAlive(pid)) continue;
    await unlink(path.join(dir, name)).catch(() => undefined);
  }
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
