// Full garbage collections after a large piece of work became garbage (a full pass over a big folder).
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;
let settleTimer: NodeJS.Timeout | undefined;

/** V8's full collector, exposed at run time (node has no API for it without --expose-gc). */
function collector(): (() => void) | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/**
 * V8 judges the allocation rate over the last 5 s of its collections (kThroughputTimeFrameMs) and
 * shrinks the young generation back from its 2 x 16 MiB semi-spaces, and gives back the free
 * old-space pages, only in a collection that sees a low rate. A collection right after the pass
 * still sees the pass's rate; one made this long after it sees the quiet that followed.
 */
export const SETTLE_COLLECT_MS = 6_000;

/**
 * Collects soon, once the caller's frames are gone, and once more when the process has been
 * quiet for a while. A full pass over 100k files leaves its scan, remote listing and plan
 * (~0.5 KB a file) in the old generation, where V8 keeps them until its next major collection:
 * for an idle daemon that is never, and it idles ~45 MB larger. The second collection releases
 * what the first cannot (measured at 100k files: the young generation's 32 MiB and ~20 MiB of
 * half-empty old-space pages, 186 MB -> 134 MB idle RSS with watching off). Each costs tens of
 * ms after a pass that took seconds. The timers are unref'd: a one-shot `sync` exits without
 * waiting for them; a second pass within the settle time only postpones the second collection,
 * and one that still finds the process busy is tried again (a few times, SETTLE_COLLECT_MS apart).
 */
export function collectGarbageSoon(): void {
  setTimeout(() => collector()?.(), 0).unref();
  settleSoon(1);
}

/** A collection that left the young generation larger than this saw a busy process: try again later. */
const SETTLED_YOUNG_BYTES = 8 * 1024 * 1024;
/** Attempts after one request; a process busy that long is not idle, and its young generation is in use. */
const SETTLE_ATTEMPTS = 5;

function settleSoon(attempt: number): void {
  clearTimeout(settleTimer);
  settleTimer = setTimeout(() => {
    const gc = collector();
    if (gc === null) return;
    gc();
    if (attempt < SETTLE_ATTEMPTS && youngGenerationBytes() > SETTLED_YOUNG_BYTES) settleSoon(attempt + 1);
  }, SETTLE_COLLECT_MS);
  settleTimer.unref();
}

function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}
