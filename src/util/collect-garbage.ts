// Full garbage collections after a large piece of work became garbage (a full pass over a big folder, start-up).
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
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
 * old-space pages, only in a collection that sees a low rate. A collection right after a pass
 * still sees the pass's rate; one made after this long a quiet stretch sees the quiet.
 */
export const SETTLE_COLLECT_MS = 6_000;
/** How often the quiet is checked: the window is the last SETTLE_COLLECT_MS, in these steps. */
const SETTLE_TICK_MS = 2_000;
/** Quiet: the event loop was busy less than this share of the window. */
const QUIET_UTILIZATION = 0.05;
/**
 * A collection that left the young generation larger than this did not see the quiet: another
 * follows after another quiet window (measured: the daemon's start-up needs two, V8 still
 * counting the start-up's rate in the first).
 */
const SETTLED_YOUNG_BYTES = 8 * 1024 * 1024;
/** Checks per request (a minute): a process busy for longer is not idle, and its heap is in use. */
const SETTLE_TICKS = 30;

/**
 * Collects soon, once the caller's frames are gone, and once more when the process has been
 * quiet for a while (collectGarbageWhenQuiet). A full pass over 100k files leaves its scan,
 * remote listing and plan (~0.5 KB a file) in the old generation, where V8 keeps them until its
 * next major collection: for an idle daemon that is never, and it idles ~45 MB larger. The
 * timers are unref'd: a one-shot `sync` exits without waiting for them.
 */
export function collectGarbageSoon(): void {
  setTimeout(() => collector()?.(), 0).unref();
  collectGarbageWhenQuiet();
}

/**
 * One full collection once the event loop has been quiet for SETTLE_COLLECT_MS: it releases
 * what a collection during or right after the work cannot (measured at 100k files: the young
 * generation's 32 MiB and ~20 MiB of half-empty old-space pages, 186 MB -> 130 MB idle RSS with
 * watching off; ~88 -> ~80 MB for a daemon on an empty folder). Each costs tens of ms (~70 at
 * 100k entries), which is why a busy process (change events, uploads) is left alone: the quiet
 * is looked for during a minute at most. A new request starts the minute again.
 */
export function collectGarbageWhenQuiet(): void {
  clearTimeout(settleTimer);
  const marks: EventLoopUtilization[] = [performance.eventLoopUtilization()];
  const window = SETTLE_COLLECT_MS / SETTLE_TICK_MS;
  let ticks = 0;
  const tick = (): void => {
    ticks++;
    const now = performance.eventLoopUtilization();
    marks.push(now);
    if (marks.length > window + 1) marks.shift();
    const quiet =
      marks.length === window + 1 &&
      performance.eventLoopUtilization(now, marks[0]).utilization < QUIET_UTILIZATION;
    if (quiet) {
      collector()?.();
      if (youngGenerationBytes() <= SETTLED_YOUNG_BYTES) return;
      marks.splice(0, marks.length - 1);
    }
    if (ticks < SETTLE_TICKS) schedule();
  };
  const schedule = (): void => {
    settleTimer = setTimeout(tick, SETTLE_TICK_MS);
    settleTimer.unref();
  };
  schedule();
}

function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * A full collection every `every` calls, for a long run of work whose pieces die after surviving
 * the young generation (each upload's request, answer and bookkeeping live across its network
 * wait, so they are promoted, then die in the old generation). V8 lets the old generation grow
 * to about twice its live size before it collects: at 100k small files that is ~250 MB of dead
 * uploads held at the peak. One collection costs tens of ms; once per `every` files it is ~1% of
 * the time the files take to upload.
 */
export function collectGarbageEvery(every: number): () => void {
  let count = 0;
  return () => {
    if (++count % every === 0) collector()?.();
  };
}
