import { describe, expect, it } from 'vitest';
import { KeyedQueue, Semaphore } from '../../src/util/keyed-queue.js';

/** A promise with its resolver and rejecter, to hold a task open. */
function gate<T = void>(): { wait: Promise<T>; open: (v: T) => void; fail: (e: Error) => void } {
  let open!: (v: T) => void;
  let fail!: (e: Error) => void;
  const wait = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { wait, open, fail };
}

/** Lets every already-settled promise's callbacks run. */
const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedQueue', () => {
  it('runs tasks on one key in submission order, one at a time', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const first = gate();
    const a = q.run(['k'], async () => {
      log.push('a start');
      await first.wait;
      log.push('a end');
      return 'a';
    });
    const b = q.run(['k'], async () => {
      log.push('b');
      return 'b';
    });
    await tick();
    expect(log).toEqual(['a start']);
    first.open();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(log).toEqual(['a start', 'a end', 'b']);
  });

  it('does not hold up tasks on other keys', async () => {
    const q = new KeyedQueue();
    const first = gate();
    void q.run(['x'], () => first.wait);
    await expect(q.run(['y'], async () => 'y')).resolves.toBe('y');
    expect(q.has('x')).toBe(true);
    first.open();
  });

  it('a task on several keys waits for each of them', async () => {
    const q = new KeyedQueue();
    const x = gate();
    const log: string[] = [];
    void q.run(['x'], () => x.wait);
    const both = q.run(['x', 'y'], async () => void log.push('both'));
    const later = q.run(['y'], async () => void log.push('y'));
    await tick();
    expect(log).toEqual([]);
    x.open();
    await Promise.all([both, later]);
    expect(log).toEqual(['both', 'y']);
  });

  it('a rejected task rejects its caller but does not block the key', async () => {
    const q = new KeyedQueue();
    await expect(q.run(['k'], async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(q.run(['k'], async () => 2)).resolves.toBe(2);
  });

  it('forgets a key once its tasks are done, and idle() waits for tasks queued meanwhile', async () => {
    const q = new KeyedQueue();
    const first = gate();
    const log: string[] = [];
    void q.run(['a', 'b'], async () => {
      await first.wait;
      void q.run(['c'], async () => void log.push('queued meanwhile'));
    });
    expect([...q.keys()].sort()).toEqual(['a', 'b']);
    expect(q.size).toBe(2);
    const idle = q.idle();
    first.open();
    await idle;
    expect(log).toEqual(['queued meanwhile']);
    expect(q.size).toBe(0);
    expect(q.has('a')).toBe(false);
  });

  it('with no keys a task starts at once', async () => {
    const q = new KeyedQueue();
    await expect(q.run([], async () => 'now')).resolves.toBe('now');
    expect(q.size).toBe(0);
  });
});

describe('Semaphore', () => {
  it('lets at most `limit` holders in, first come first served', async () => {
    const sem = new Semaphore(2);
    const gates = [gate(), gate(), gate(), gate()];
    const running = new Set<number>();
    const order: number[] = [];
    let peak = 0;
    const all = gates.map((g, i) =>
      sem.with(async () => {
        running.add(i);
        order.push(i);
        peak = Math.max(peak, running.size);
        await g.wait;
        running.delete(i);
      }),
    );
    await tick();
    expect([...running]).toEqual([0, 1]);
    gates[1]!.open();
    await tick();
    expect([...running].sort()).toEqual([0, 2]);
    for (const g of gates) g.open();
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
  });

  it('releases its slot when the task throws', async () => {
    const sem = new Semaphore(1);
    await expect(sem.with(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(sem.with(async () => 'free')).resolves.toBe('free');
  });
});
