import { describe, expect, it } from 'vitest';
import { createPrng, FaultInjector, parseFaultOptions } from '../../src/emulator/faults.js';
import { SlidingWindowLimiter } from '../../src/emulator/rate-limit.js';

describe('FaultInjector', () => {
  it('is deterministic for a seed', () => {
    const picks = (seed: number): (string | null)[] => {
      const f = new FaultInjector({ rate429: 0.1, rate500: 0.1, rateReset: 0.1, seed });
      return Array.from({ length: 200 }, () => f.pick(false));
    };
    expect(picks(7)).toEqual(picks(7));
    expect(picks(7)).not.toEqual(picks(8));
  });

  it('roughly honours the configured rates', () => {
    const f = new FaultInjector({ rate429: 0.2, rate529: 0.1, seed: 42 });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 5000; i++) {
      const k = f.pick(false) ?? 'none';
      counts[k] = (counts[k] ?? 0) + 1;
    }
    expect(counts['rate429']).toBeGreaterThan(850);
    expect(counts['rate429']).toBeLessThan(1150);
    expect(counts['rate529']).toBeGreaterThan(400);
    expect(counts['rate529']).toBeLessThan(600);
    expect(counts['rate500']).toBeUndefined();
  });

  it('picks created-then-reset only for uploads', () => {
    const f = new FaultInjector({ rateCreatedThenReset: 1, seed: 1 });
    expect(f.pick(false)).toBeNull();
    expect(f.pick(true)).toBe('rateCreatedThenReset');
  });

  it('uses 100 ms as the default retry-after, and configure() replaces the whole fault set', () => {
    const f = new FaultInjector({ latencyMs: 5, rate429: 1, seed: 1 });
    expect(f.retryAfterMs).toBe(100);
    expect(f.pick(false)).toBe('rate429');
    // A reconfiguration is a new fault set, not a patch: the 429s and the latency are gone.
    f.configure({ retryAfterMs: 2500 });
    expect(f.retryAfterMs).toBe(2500);
    expect(f.latencyMs).toBe(0);
    expect(f.pick(false)).toBeNull();
  });

  it('createPrng yields numbers in [0, 1)', () => {
    const r = createPrng(123);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});

describe('parseFaultOptions', () => {
  it('accepts a valid configuration and drops nothing', () => {
    expect(parseFaultOptions({ rate429: 0.5, latencyMs: 10, seed: 3 })).toEqual({
      rate429: 0.5,
      latencyMs: 10,
      seed: 3,
    });
  });

  it.each([[{ rate429: 2 }], [{ rate500: -0.1 }], [{ unknown: 1 }], [{ latencyMs: 'x' }], [null]])(
    'refuses %j',
    (input) => {
      expect(() => parseFaultOptions(input)).toThrow();
    },
  );
});

describe('SlidingWindowLimiter', () => {
  it('allows N per 60 s window and tells how long until a slot frees', () => {
    let now = 1_000_000;
    const l = new SlidingWindowLimiter(3, () => now);
    expect(l.tryAcquire().ok).toBe(true);
    now += 10_000;
    expect(l.tryAcquire().ok).toBe(true);
    expect(l.tryAcquire().ok).toBe(true);
    const denied = l.tryAcquire();
    expect(denied).toEqual({ ok: false, retryAfterMs: 50_000 });
    now += 50_000; // the first request leaves the window
    expect(l.tryAcquire().ok).toBe(true);
    expect(l.tryAcquire().ok).toBe(false);
  });

  it('is unlimited at 0', () => {
    const l = new SlidingWindowLimiter(0);
    for (let i = 0; i < 1000; i++) expect(l.tryAcquire().ok).toBe(true);
  });

  it('forgets everything on clear', () => {
    const l = new SlidingWindowLimiter(1, () => 5);
    expect(l.tryAcquire().ok).toBe(true);
    expect(l.tryAcquire().ok).toBe(false);
    l.clear();
    expect(l.tryAcquire().ok).toBe(true);
  });
});
