/** A sliding-window requests-per-minute limiter for the emulator. */
const WINDOW_MS = 60_000;

/** Outcome of asking the limiter for one request slot. */
export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

/** Sliding 60-second window over accepted requests, like the API's requests-per-minute limit. */
export class SlidingWindowLimiter {
  private stamps: number[] = [];
  private head = 0;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a slot if one is free; otherwise says how long until the oldest one frees up. */
  tryAcquire(): RateDecision {
    if (this.perMinute <= 0) return { ok: true };
    const t = this.now();
    while (this.head < this.stamps.length && (this.stamps[this.head] ?? 0) <= t - WINDOW_MS) this.head++;
    if (this.head > 1024 && this.head * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.head);
      this.head = 0;
    }
    if (this.stamps.length - this.head >= this.perMinute) {
      const oldest = this.stamps[this.head] ?? t;
      return { ok: false, retryAfterMs: Math.max(1, oldest + WINDOW_MS - t) };
    }
    this.stamps.push(t);
    return { ok: true };
  }

  /** Forgets every request (POST /_emulator/reset). */
  clear(): void {
    this.stamps = [];
    this.head = 0;
  }
}
