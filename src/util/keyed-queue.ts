/**
 * Ordering primitives for concurrent work: a keyed queue (tasks sharing a key run one after
 * another, in submission order; tasks on other keys do not wait) and a counting semaphore.
 */

const settle = (): undefined => undefined;

/** Tasks that share a key run one at a time, in the order they were submitted. */
export class KeyedQueue {
  /** The settled-never-rejecting tail of each key's chain; a key is dropped once its chain drains. */
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` once every earlier task on any of `keys` has settled (whether it resolved or
   * rejected) and returns its result. With no keys it starts at once.
   */
  run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const previous = Promise.all(keys.map((k) => this.tails.get(k) ?? Promise.resolve()));
    const result = previous.then(task);
    const tail = result.then(settle, settle);
    for (const k of keys) this.tails.set(k, tail);
    void tail.then(() => {
      for (const k of keys) if (this.tails.get(k) === tail) this.tails.delete(k);
    });
    return result;
  }

  /** True while a task on `key` is queued or running. */
  has(key: string): boolean {
    return this.tails.has(key);
  }

  /** How many keys have a task queued or running. */
  get size(): number {
    return this.tails.size;
  }

  /** The keys with a task queued or running. */
  keys(): IterableIterator<string> {
    return this.tails.keys();
  }

  /** Resolves once no task is queued or running, including tasks queued while waiting. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}

/** A counting semaphore: at most `limit` holders at once, served in FIFO order. */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  /** Runs `task` while holding one slot. */
  async with<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }
}
