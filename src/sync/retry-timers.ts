/**
 * One-shot timers a folder's loop sets (retries, a reconciliation soon), with per-key retry
 * backoff: a key's delay doubles from `baseMs` to `maxMs` with each failure until it is reset.
 * Timers never keep the process alive and all are cancelled by `close()`.
 */
export class RetryTimers {
  private readonly failures = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** Calls `fn` after `key`'s next backoff delay. */
  retry(key: string, fn: () => void): void {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    this.after(Math.min(this.baseMs * 2 ** (n - 1), this.maxMs), fn);
  }

  /** `key` succeeded: its next retry waits the base delay again. */
  reset(key: string): void {
    this.failures.delete(key);
  }

  /** Calls `fn` once after `ms`, unless closed first. */
  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Cancels every pending timer. */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
