/** Which configured folder holds an absolute path, and the path relative to it as the manifest keys it. */
import path from 'node:path';

/** The deepest folder root containing `absPath` (POSIX-relative path), or undefined when none does. */
export function locateIn<F extends { path: string }>(
  folders: Iterable<F>,
  absPath: string,
): { folder: F; rel: string } | undefined {
  let best: { folder: F; rel: string } | undefined;
  for (const folder of folders) {
    const rel = path.relative(folder.path, absPath);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) continue;
    // The deepest root wins (folders cannot nest, but be exact anyway).
    if (!best || folder.path.length > best.folder.path.length)
      best = { folder, rel: rel.split(path.sep).join('/') };
  }
  return best;
}
