// Per-path debouncing of watcher events: a path is checked once it has been quiet (or waited too long).
/** A timer handle as returned by the injected setTimeout (Node's Timeout, or a fake timer id). */
type TimerHandle = ReturnType<typeof setTimeout>;

export interface PathDebouncerOptions {
  /** A path is flushed once it has had no event for this long. */
  quietMs: number;
  /** ...or once this long has passed since its first unflushed event, so a file written continuously still syncs. */
  maxDelayMs: number;
  /** Receives every path that became due at the same moment, in one batch (never empty). */
  onFlush: (paths: string[]) => void;
  setTimeout?: (callback: () => void, ms: number) => TimerHandle;
  clearTimeout?: (handle: TimerHandle) => void;
  /** Monotonic milliseconds; `performance.now()` by default (a wall clock jumping back would stall flushes). */
  now?: () => number;
}

export interface PathDebouncer {
  /**
   * Records an event for this path, (re)starting its quiet period, of which `quietMs` have passed
   * already (a watcher that held the event back says how long). Ignored after close().
   */
  touch(path: string, quietMs?: number): void;
  /** Flushes now, in one batch, the paths that are due (none: no call), as the timer would. */
  flushDue(): void;
  /** Flushes every pending path now, in one batch, whatever its quiet period. */
  flushNow(): void;
  /** How many paths are waiting. */
  pending(): number;
  /** Stops the timer and drops pending paths without flushing them (call flushNow() first to keep them). */
  close(): void;
}

interface PendingPath {
  first: number;
  last: number;
}

/** A flush also takes the paths due this much later: at most a tenth of the quiet period. */
const COALESCE_MS = 10;

/** Coalesces bursts of events per path: flushes a path after a quiet period, or after a maximum delay. */
export function createPathDebouncer(options: PathDebouncerOptions): PathDebouncer {
  const { quietMs, maxDelayMs, onFlush } = options;
  if (!(quietMs >= 0) || !(maxDelayMs >= 0)) {
    throw new RangeError(
      `quietMs and maxDelayMs must be non-negative numbers (got ${quietMs}, ${maxDelayMs})`,
    );
  }
  const coalesceMs = Math.min(COALESCE_MS, quietMs / 10);
  const setTimer = options.setTimeout ?? ((cb: () => void, ms: number) => setTimeout(cb, ms));
  const clearTimer = options.clearTimeout ?? ((h: TimerHandle) => clearTimeout(h));
  const now = options.now ?? (() => performance.now());

  // Two views of the same pending paths, each kept in time order by Map insertion order (the clock
  // is monotonic), so finding what is due costs only the paths that are due, even with 100k pending.
  const byLast = new Map<string, PendingPath>();
  const byFirst = new Map<string, PendingPath>();
  let timer: { handle: TimerHandle; at: number } | undefined;
  let closed = false;
  /** The time of the last touch: touches that say their change is older never go before it. */
  let latest = -Infinity;

  const earliestDue = (): number | undefined => {
    let due: number | undefined;
    for (const p of byLast.values()) {
      due = p.last + quietMs;
      break;
    }
    for (const p of byFirst.values()) {
      const maxDue = p.first + maxDelayMs;
      if (due === undefined || maxDue < due) due = maxDue;
      break;
    }
    return due;
  };

  const arm = (): void => {
    const due = earliestDue();
    if (due === undefined) {
      disarm();
      return;
    }
    if (timer !== undefined && timer.at <= due) return;
    disarm();
    // A timer may fire a fraction of a millisecond early by the monotonic clock; fire() re-arms then.
    const handle = setTimer(fire, Math.max(0, due - now()));
    timer = { handle, at: due };
  };

  const disarm = (): void => {
    if (timer === undefined) return;
    clearTimer(timer.handle);
    timer = undefined;
  };

  const take = (path: string): void => {
    byLast.delete(path);
    byFirst.delete(path);
  };

  const fire = (): void => {
    timer = undefined;
    if (closed) return;
    // Paths due within COALESCE_MS of each other go in one flush: the two halves of a rename are
    // touched microseconds apart, and flushed apart they are a delete and an upload, not a move.
    const t = now() + coalesceMs;
    const due = new Set<string>();
    for (const [path, p] of byLast) {
      if (p.last + quietMs > t) break;
      due.add(path);
    }
    for (const [path, p] of byFirst) {
      if (p.first + maxDelayMs > t) break;
      due.add(path);
    }
    // Remove before calling out, so a throwing or re-entrant onFlush sees a consistent state.
    for (const path of due) take(path);
    arm();
    if (due.size > 0) onFlush([...due]);
  };

  return {
    touch(path: string, alreadyQuietMs = 0): void {
      if (closed) return;
      // Never before the latest event already recorded: byLast stays in time order (see above).
      const t = Math.max(now() - Math.min(Math.max(alreadyQuietMs, 0), quietMs), latest);
      latest = t;
      const existing = byFirst.get(path);
      if (existing === undefined) {
        const p: PendingPath = { first: t, last: t };
        byLast.set(path, p);
        byFirst.set(path, p);
      } else {
        existing.last = t;
        // Re-insert to keep byLast ordered by last event time.
        byLast.delete(path);
        byLast.set(path, existing);
      }
      arm();
    },
    flushDue(): void {
      disarm();
      fire();
    },
    flushNow(): void {
      if (closed) return;
      disarm();
      const all = [...byFirst.keys()];
      byLast.clear();
      byFirst.clear();
      if (all.length > 0) onFlush(all);
    },
    pending(): number {
      return byFirst.size;
    },
    close(): void {
      closed = true;
      disarm();
      byLast.clear();
      byFirst.clear();
    },
  };
}
