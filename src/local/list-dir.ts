// Lists a new directory for the watchers: its files, recursively, for a 'dir' event, and its subdirectories to watch.
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { WatchFilter } from './watch-types.js';

/**
 * Lists the files under `relDir` (relative to `root`) that the filter accepts, recursively, as
 * relative POSIX paths. For the 'dir' event: chokidar misses files created right after their
 * directory. Symlinks are skipped unless followed; a vanished or unreadable directory lists as
 * empty (reconciliation catches what a listing misses).
 */
export async function listDir(
  root: string,
  relDir: string,
  filter: WatchFilter,
  options: { followSymlinks?: boolean } = {},
): Promise<string[]> {
  const follow = options.followSymlinks ?? false;
  const files: string[] = [];
  const abs = (rel: string): string => (rel === '' ? root : path.join(root, rel));

  // `seen` holds the identities of the directories above, to stop symlink loops when following.
  const walk = async (rel: string, seen: ReadonlySet<string>): Promise<void> => {
    let nextSeen = seen;
    if (follow) {
      let st: Stats;
      try {
        st = await fs.stat(abs(rel));
      } catch {
        return;
      }
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) return;
      nextSeen = new Set(seen).add(id);
    }
    let dirents;
    try {
      dirents = await fs.readdir(abs(rel), { withFileTypes: true });
    } catch {
      return;
    }
    const subdirs: string[] = [];
    for (const d of dirents) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (filter.mayContain(child)) subdirs.push(child);
      } else if (d.isFile()) {
        if (filter.matchesFile(child)) files.push(child);
      } else if (d.isSymbolicLink() && follow) {
        let target: Stats;
        try {
          target = await fs.stat(abs(child));
        } catch {
          continue; // dangling or looping link
        }
        if (target.isDirectory()) {
          if (filter.mayContain(child)) subdirs.push(child);
        } else if (target.isFile() && filter.matchesFile(child)) {
          files.push(child);
        }
      }
    }
    await Promise.all(subdirs.map((dir) => walk(dir, nextSeen)));
  };

  const start = relDir.replace(/^\/+|\/+$/g, '');
  if (start !== '' && !filter.mayContain(start)) return [];
  await walk(start, new Set());
  return files;
}

/**
 * The directories directly under `relDir` (relative POSIX paths) that the filter may watch, for a
 * watcher backend covering a new directory's subdirectories. Symlinks are not directories here; a
 * vanished or unreadable directory has none.
 */
export async function listSubdirs(root: string, relDir: string, filter: WatchFilter): Promise<string[]> {
  const dirents = await fs.readdir(path.join(root, relDir), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const d of dirents) {
    const child = `${relDir}/${d.name}`;
    if (d.isDirectory() && filter.mayContain(child)) out.push(child);
  }
  return out;
}
