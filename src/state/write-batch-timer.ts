// When a store writes its batched changes: after a quiet period, and never later than a maximum delay.

export interface WriteBatchTimerOptions {
  /** Quiet period after the last change before a write. */
  quietMs: number;
  /** A dirty store is written at most this late, however busy. */
  maxMs: number;
  /** Whether a write is still wanted when the timer fires (something pending, store usable). */
  wanted: () => boolean;
  /** Starts the write (its errors are the store's to report). */
  write: () => void;
  /** Let the process exit with the timer armed (the store flushes at close anyway). */
  unref?: boolean;
}

/**
 * One timer for a whole burst of changes: when it fires it re-arms itself for whatever remains of
 * the quiet period, capped by the max delay, instead of being reset on every change.
 */
export class WriteBatchTimer {
  private timer: NodeJS.Timeout | undefined;
  private dirtySince = 0;
  private lastChangeAt = 0;
  private stopped = false;

  constructor(private readonly o: WriteBatchTimerOptions) {}

  /** A change was recorded. */
  changed(): void {
    const now = Date.now();
    this.lastChangeAt = now;
    this.dirtySince ||= now;
    if (this.timer === undefined && !this.stopped) this.arm(this.o.quietMs);
  }

  /** A write failed and its changes are pending again: try once more, at least a second later. */
  retry(): void {
    this.dirtySince ||= Date.now();
    if (this.timer === undefined && !this.stopped) this.arm(Math.max(this.o.quietMs, 1000));
  }

  /** A write is starting with everything pending: nothing waits any more. */
  writing(): void {
    this.clear();
    this.dirtySince = 0;
  }

  /** No more timed writes (the store is closing). */
  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms);
    if (this.o.unref) this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped || !this.o.wanted()) return;
    const due = Math.min(this.lastChangeAt + this.o.quietMs, this.dirtySince + this.o.maxMs);
    const now = Date.now();
    if (now < due) {
      this.arm(due - now);
      return;
    }
    this.o.write();
  }

  private clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
