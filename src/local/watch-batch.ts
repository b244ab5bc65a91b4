// Prepares one watcher batch for the debouncer: both halves of a rename get the same age, oldest first.
import type { WatchEvent } from './watch-types.js';

/**
 * A backend that dates each change (watch-parcel, from the inode's ctime) can only date an unlink
 * by the batch. The two halves of a rename must fall due together, or they flush apart and the
 * move becomes a delete plus an upload: an unlink whose tracked inode is a changed path's in the
 * same batch takes that path's age (the rename's). Ordered oldest first, because the debouncer
 * never dates an event before one it already holds.
 */
export function datedBatch(
  events: readonly WatchEvent[],
  trackedIno: (path: string) => number | undefined,
): WatchEvent[] {
  const ageByIno = new Map<number, number>();
  for (const e of events)
    if (e.type === 'change' && e.ino !== undefined && e.quietMs !== undefined) ageByIno.set(e.ino, e.quietMs);
  const dated =
    ageByIno.size === 0
      ? [...events]
      : events.map((e) => {
          if (e.type !== 'unlink') return e;
          const ino = trackedIno(e.path);
          const age = ino === undefined ? undefined : ageByIno.get(ino);
          return age === undefined ? e : { ...e, quietMs: age };
        });
  return dated.sort((a, b) => (b.quietMs ?? 0) - (a.quietMs ?? 0));
}
