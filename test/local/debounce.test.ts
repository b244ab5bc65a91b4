import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPathDebouncer, type PathDebouncerOptions } from '../../src/local/debounce.js';

describe('createPathDebouncer', () => {
  let batches: string[][];

  beforeEach(() => {
    vi.useFakeTimers();
    batches = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (overrides: Partial<PathDebouncerOptions> = {}) =>
    createPathDebouncer({
      quietMs: 100,
      maxDelayMs: 1000,
      onFlush: (paths) => batches.push(paths),
      ...overrides,
    });

  it('flushes a path once it has been quiet for quietMs, not before', () => {
    const d = make();
    d.touch('a.txt');
    vi.advanceTimersByTime(99);
    expect(batches).toEqual([]);
    expect(d.pending()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([['a.txt']]);
    expect(d.pending()).toBe(0);
  });

  it('counts the quiet time a watcher already waited, never more than quietMs, never before an earlier event', () => {
    const d = make();
    d.touch('held.txt', 50);
    vi.advanceTimersByTime(49);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([['held.txt']]);

    // A claim above quietMs waits nothing more, but is still a timer turn, not an inline flush.
    d.touch('old.txt', 10_000);
    expect(batches).toHaveLength(1);
    vi.advanceTimersByTime(0);
    expect(batches).toEqual([['held.txt'], ['old.txt']]);

    // A held event right after a fresh one is placed no earlier than it: both are due together.
    d.touch('fresh.txt');
    vi.advanceTimersByTime(20);
    d.touch('late.txt', 50);
    vi.advanceTimersByTime(79);
    expect(batches).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(batches.at(-1)?.sort()).toEqual(['fresh.txt', 'late.txt']);
  });

  it('restarts the quiet period on every event for the same path and flushes it once', () => {
    const d = make();
    d.touch('a.txt');
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(60);
      d.touch('a.txt');
    }
    vi.advanceTimersByTime(99);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([['a.txt']]);
  });

  it('flushes a continuously written path after maxDelayMs since its first event', () => {
    const d = make({ quietMs: 100, maxDelayMs: 500 });
    d.touch('log.txt');
    for (let t = 50; t < 500; t += 50) {
      vi.advanceTimersByTime(50);
      d.touch('log.txt');
    }
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(50);
    expect(batches).toEqual([['log.txt']]);
    // Events after the flush start a new cycle for the same path.
    d.touch('log.txt');
    vi.advanceTimersByTime(100);
    expect(batches).toEqual([['log.txt'], ['log.txt']]);
  });

  it('coalesces paths that become due at the same moment into one batch', () => {
    const d = make();
    d.touch('a');
    d.touch('b');
    d.touch('c');
    vi.advanceTimersByTime(100);
    expect(batches).toHaveLength(1);
    expect(new Set(batches[0])).toEqual(new Set(['a', 'b', 'c']));
  });

  it('flushes paths due at different moments separately, each only when due', () => {
    const d = make();
    d.touch('early');
    vi.advanceTimersByTime(40);
    d.touch('late');
    vi.advanceTimersByTime(60);
    expect(batches).toEqual([['early']]);
    expect(d.pending()).toBe(1);
    vi.advanceTimersByTime(40);
    expect(batches).toEqual([['early'], ['late']]);
  });

  it('keeps a re-touched path waiting while an untouched one flushes', () => {
    const d = make();
    d.touch('busy');
    d.touch('idle');
    vi.advanceTimersByTime(80);
    d.touch('busy');
    vi.advanceTimersByTime(20);
    expect(batches).toEqual([['idle']]);
    vi.advanceTimersByTime(80);
    expect(batches).toEqual([['idle'], ['busy']]);
  });

  it('flushNow flushes everything pending in one batch and cancels the timer', () => {
    const d = make();
    d.touch('a');
    d.touch('b');
    d.flushNow();
    expect(batches).toHaveLength(1);
    expect(new Set(batches[0])).toEqual(new Set(['a', 'b']));
    vi.advanceTimersByTime(5000);
    expect(batches).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flushDue flushes at once only what is due, and the timer still flushes the rest', () => {
    const d = make();
    d.touch('due-by-now.txt', 10_000);
    d.touch('fresh.txt');
    d.flushDue();
    expect(batches).toEqual([['due-by-now.txt']]);
    d.flushDue();
    expect(batches).toHaveLength(1);
    vi.advanceTimersByTime(100);
    expect(batches).toEqual([['due-by-now.txt'], ['fresh.txt']]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flushNow with nothing pending does not call onFlush', () => {
    const d = make();
    d.flushNow();
    expect(batches).toEqual([]);
  });

  it('close drops pending paths, stops the timer and ignores later events', () => {
    const d = make();
    d.touch('a');
    d.close();
    expect(d.pending()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    d.touch('b');
    d.flushNow();
    vi.advanceTimersByTime(5000);
    expect(batches).toEqual([]);
  });

  it('keeps at most one timer armed however many paths are pending', () => {
    const d = make();
    for (let i = 0; i < 1000; i++) d.touch(`f${i}`);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(1000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('accepts events from inside onFlush (a re-queued path is flushed again later)', () => {
    let requeued = false;
    const d = createPathDebouncer({
      quietMs: 100,
      maxDelayMs: 1000,
      onFlush: (paths) => {
        batches.push(paths);
        if (!requeued) {
          requeued = true;
          d.touch('a');
        }
      },
    });
    d.touch('a');
    vi.advanceTimersByTime(100);
    expect(d.pending()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(batches).toEqual([['a'], ['a']]);
  });

  it('flushes paths due a moment apart in one batch (both halves of a rename), within a tenth of quietMs', () => {
    let clock = 0;
    const timers: Array<() => void> = [];
    const d = make({
      now: () => clock,
      setTimeout: (cb) => {
        timers.push(cb);
        return timers.length as unknown as ReturnType<typeof setTimeout>;
      },
      clearTimeout: () => undefined,
    });
    d.touch('old-name.txt');
    clock = 0.05;
    d.touch('new-name.txt');
    clock = 50;
    d.touch('later.txt');
    clock = 100;
    timers.at(-1)!();
    expect(batches).toEqual([['old-name.txt', 'new-name.txt']]);
    expect(d.pending()).toBe(1);
  });

  it('uses the injected timer functions and clock', () => {
    let clock = 0;
    const scheduled: Array<{ cb: () => void; ms: number }> = [];
    const cleared: unknown[] = [];
    const d = createPathDebouncer({
      quietMs: 10,
      maxDelayMs: 50,
      onFlush: (paths) => batches.push(paths),
      now: () => clock,
      setTimeout: (cb, ms) => {
        scheduled.push({ cb, ms });
        return scheduled.length as unknown as ReturnType<typeof setTimeout>;
      },
      clearTimeout: (h) => cleared.push(h),
    });
    d.touch('x');
    expect(scheduled.map((s) => s.ms)).toEqual([10]);
    // The timer firing early (clock not yet at the due time) flushes nothing and re-arms.
    clock = 5;
    scheduled[0]!.cb();
    expect(batches).toEqual([]);
    expect(scheduled.map((s) => s.ms)).toEqual([10, 5]);
    clock = 10;
    scheduled[1]!.cb();
    expect(batches).toEqual([['x']]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects negative or NaN delays', () => {
    expect(() => make({ quietMs: -1 })).toThrow(RangeError);
    expect(() => make({ maxDelayMs: Number.NaN })).toThrow(RangeError);
  });
});
