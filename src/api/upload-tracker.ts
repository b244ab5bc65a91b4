/**
 * Bookkeeping that keeps ambiguous-upload recovery from adopting the wrong file: which file IDs
 * this client already handed out, which upload attempts for the same (filename, size) are still in
 * flight, and one resolution at a time per (filename, size).
 */
import { KeyedQueue } from '../util/keyed-queue.js';

/**
 * The key under which uploads can be confused with each other: the API keeps no path or hash, so
 * a remote file is tied to an upload by its name and size alone.
 */
export function uploadKey(remoteName: string, sizeBytes: number): string {
  return `${sizeBytes}\0${remoteName}`;
}

export class UploadTracker {
  private readonly handedOut = new Set<string>();
  private readonly inFlight = new Map<string, Set<Promise<unknown>>>();
  private readonly resolving = new KeyedQueue();

  /** The key under which uploads can be confused with each other. */
  static keyOf(filename: string, sizeBytes: number): string {
    return uploadKey(filename, sizeBytes);
  }

  /** IDs already returned by this client (never adopt one of these for another upload). */
  get claimed(): ReadonlySet<string> {
    return this.handedOut;
  }

  /** Records an ID as returned to a caller. */
  claim(id: string): void {
    this.handedOut.add(id);
  }

  /** Registers an attempt; `attempt` must claim its ID itself before it settles. */
  track<T>(key: string, attempt: Promise<T>): Promise<T> {
    let set = this.inFlight.get(key);
    if (!set) {
      set = new Set();
      this.inFlight.set(key, set);
    }
    const entry = attempt.finally(() => {
      set.delete(entry);
      if (set.size === 0 && this.inFlight.get(key) === set) this.inFlight.delete(key);
    });
    set.add(entry);
    // The tracked copy may reject unobserved; the caller observes `attempt` itself.
    entry.catch(() => undefined);
    return attempt;
  }

  /**
   * Runs `resolve` once every other attempt for `key` has settled (so their IDs are claimed) and no
   * other resolution for `key` is running.
   */
  resolveExclusively<T>(key: string, resolve: () => Promise<T>): Promise<T> {
    return this.resolving.run([key], async () => {
      await Promise.allSettled([...(this.inFlight.get(key) ?? [])]);
      return resolve();
    });
  }
}
