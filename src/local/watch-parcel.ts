// The @parcel/watcher backend (native, one inotify watch per directory); falls back to chokidar.
/**
 * The @parcel/watcher backend: native, one inotify watch per directory instead of chokidar's
 * per-file watchers, so it stays light on large trees (measured in bench: watch memory).
 *
 * On Linux, @parcel/watcher adds a watch to a directory it hears being created but not to the
 * subdirectories that already exist inside it by then (`mkdir -p a/b`, `cp -r`, unzip; upstream
 * parcel-bundler/watcher#97): nothing under a/b would ever be reported. So when a new directory
 * has subdirectories, each of them gets a subscription of its own (whose initial crawl watches
 * its whole subtree), dropped again when the directory goes.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AsyncSubscription, Event as ParcelEvent } from '@parcel/watcher';
import { KeyedQueue } from '../util/keyed-queue.js';
import { listSubdirs } from './list-dir.js';
import { createChokidarWatcher } from './watch-chokidar.js';
import { errorCode, watcherLifecycle } from './watch-lifecycle.js';
import { WatchError, type FolderWatcher, type WatchEvent, type WatchOptions } from './watch-types.js';

type ParcelModule = typeof import('@parcel/watcher');

let parcelModule: Promise<ParcelModule> | undefined;

/** Loads the native module once; a platform without a prebuilt binary fails here, not at import. */
function loadParcel(): Promise<ParcelModule> {
  parcelModule ??= import('@parcel/watcher').then((m) => (m as { default?: ParcelModule }).default ?? m);
  return parcelModule;
}

/**
 * @parcel/watcher's own batching (its Debounce.hh, one timer for the whole process): an event is
 * delivered at once if nothing was delivered for 500 ms, else once 50 ms pass without another.
 */
const PARCEL_MIN_WAIT_MS = 50;
const PARCEL_MAX_WAIT_MS = 500;
/**
 * The kernel stamps ctime from its coarse clock, up to one tick (4 ms at HZ=250, 10 at HZ=100)
 * before the write it records: an age from ctime is that much too long.
 */
const CTIME_TICK_MS = 10;
/** Our clock sees deliveries late by however busy the event loop was: only a clear gap counts. */
const DELIVERY_SLACK_MS = 100;

/**
 * How long the changes in a batch are known to have been quiet, given the time since this
 * watcher's previous batch. A batch within 500 ms of an earlier one came from parcel's 50 ms
 * timer: its newest change is at least 50 ms old. Otherwise it may be fresh (0). Other folders'
 * batches also reset parcel's timer, which can only make a batch older than we assume.
 */
export function parcelQuietMs(msSincePreviousBatch: number): number {
  return msSincePreviousBatch < PARCEL_MAX_WAIT_MS - DELIVERY_SLACK_MS ? PARCEL_MIN_WAIT_MS : 0;
}

/**
 * How long a path that still exists has been quiet, from its inode change time: every write,
 * chmod and rename sets ctime (a writer's utimes cannot set it back), so `now - ctime` is how long
 * parcel held the event, exactly, where parcelQuietMs can only assume 50 ms (a batch waits up to
 * 500 ms while other events keep coming; the bench measured 90 ms on average). Bounded by what
 * parcel can have held, so a file-system clock behind ours (a network mount) cannot make a fresh
 * write look settled. parcel delivers at once an event that comes 500 ms or more after its previous
 * delivery, and otherwise holds events until 50 ms pass without another or 500 ms have passed since
 * that delivery: an event it held arrived after its previous batch, so it is at most the gap old.
 * A gap longer than 500 ms plus our slack can only be the at-once case.
 */
export function quietSinceChange(msSinceChange: number, msSincePreviousBatch: number): number {
  const held =
    msSincePreviousBatch <= PARCEL_MAX_WAIT_MS + DELIVERY_SLACK_MS
      ? msSincePreviousBatch + DELIVERY_SLACK_MS
      : DELIVERY_SLACK_MS;
  return Math.max(0, Math.min(msSinceChange, held));
}

function isWatchLimit(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return errorCode(err) === 'ENOSPC' || /no space left on device|ENOSPC|inotify_add_watch/i.test(message);
}

/** Starts a @parcel/watcher subscription behind the FolderWatcher interface (see createWatcher). */
export function createParcelWatcher(options: WatchOptions): FolderWatcher {
  const { filter, onEvents } = options;
  const logger = options.logger.child({ component: 'watch', backend: 'parcel', root: options.root });
  let subscription: AsyncSubscription | undefined;
  let parcel: ParcelModule | undefined;
  /** Extra subscriptions on subdirectories the main one missed, by relative path. */
  const nested = new Map<string, Promise<AsyncSubscription | undefined>>();
  /** chokidar, when the native module cannot load on this platform. */
  let delegate: FolderWatcher | undefined;
  let root = options.root;

  const life = watcherLifecycle({
    root: options.root,
    onError: options.onError,
    logger,
    release: () => {
      if (delegate) return delegate.close();
      const sub = subscription;
      subscription = undefined;
      const extra = [...nested.values()];
      nested.clear();
      return Promise.all([sub?.unsubscribe(), ...extra.map((p) => p.then((s) => s?.unsubscribe()))])
        .then(() => undefined)
        .catch(() => undefined);
    },
  });

  const relative = (abs: string): string | undefined => {
    const rel = path.relative(root, abs);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))
      return undefined;
    return path.sep === '/' ? rel : rel.split(path.sep).join('/');
  };

  let previousBatchAt = -Infinity;

  /**
   * Batches are handed on in parcel's order, though translating one may take longer than the next
   * (lstat under a busy thread pool): the unlink of a file renamed into a new directory must not
   * overtake that directory's event, or its delete falls due before the listing that finds the
   * file's new path, and the move becomes a delete plus an upload.
   */
  const deliveries = new KeyedQueue();
  const DELIVERY = ['deliver'];

  // parcel does not say whether a path is a directory: lstat once per created/updated path.
  const translate = async (
    events: ParcelEvent[],
    quietMs: number,
    msSincePreviousBatch: number,
  ): Promise<{ events: WatchEvent[]; newDirs: string[] }> => {
    const out: WatchEvent[] = [];
    const newDirs: string[] = [];
    await Promise.all(
      events.map(async (e) => {
        const rel = relative(e.path);
        if (rel === undefined) return;
        if (e.type === 'delete') {
          dropNested(rel);
          if (filter.matchesFile(rel)) out.push({ type: 'unlink', path: rel, quietMs });
          if (filter.mayContain(rel)) out.push({ type: 'unlink-dir', path: rel, quietMs });
          return;
        }
        const st = await fs.lstat(e.path).catch(() => undefined);
        if (st?.isDirectory()) {
          // Not dated by its ctime: that moves with entries added or removed, not with the files
          // inside being written, and the consumer touches every file it lists with this age.
          if (filter.mayContain(rel)) {
            out.push({ type: 'dir', path: rel, quietMs });
            newDirs.push(rel);
          }
        } else if (filter.matchesFile(rel)) {
          // Gone again, a file, a symlink or a special file: the consumer's lstat decides.
          const quiet = st
            ? quietSinceChange(Date.now() - st.ctimeMs - CTIME_TICK_MS, msSincePreviousBatch)
            : quietMs;
          out.push({ type: 'change', path: rel, quietMs: quiet, ...(st ? { ino: st.ino } : {}) });
        }
      }),
    );
    return { events: out, newDirs };
  };

  const onParcelEvents = (err: Error | null, events: ParcelEvent[]): void => {
    if (life.stopped) return;
    if (err) {
      void fail(err);
      return;
    }
    const at = performance.now();
    const sincePrevious = at - previousBatchAt;
    previousBatchAt = at;
    const translated = translate(events, parcelQuietMs(sincePrevious), sincePrevious);
    deliveries
      .run(DELIVERY, async () => {
        const batch = await translated;
        if (life.stopped) return;
        if (batch.events.length > 0) onEvents(batch.events);
        // After the delivery: a tree copied in may take many subscriptions, and later batches
        // wait for this one.
        for (const dir of batch.newDirs)
          coverSubdirectories(dir).catch((err: unknown) =>
            logger.debug(
              { dir, err: err instanceof Error ? err.message : String(err) },
              'could not cover a new directory',
            ),
          );
      })
      .catch((err: unknown) =>
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'watch events not delivered'),
      );
  };

  /** Subscribes to each existing subdirectory of a new directory (see the module comment). */
  const coverSubdirectories = async (relDir: string): Promise<void> => {
    if (parcel === undefined) return;
    for (const child of await listSubdirs(root, relDir, filter)) {
      if (nested.has(child) || life.stopped) continue;
      const p = parcel.subscribe(path.join(root, child), onParcelEvents).catch((err: unknown) => {
        nested.delete(child);
        logger.debug(
          { dir: child, err: err instanceof Error ? err.message : String(err) },
          'could not watch a new subdirectory',
        );
        return undefined;
      });
      nested.set(child, p);
      const sub = await p;
      if (life.stopped) await sub?.unsubscribe().catch(() => undefined);
    }
    if (nested.size > 0)
      logger.debug({ dir: relDir, nested: nested.size }, 'watching subdirectories of a new directory');
  };

  /** Drops the extra subscriptions at or under a deleted path. */
  const dropNested = (rel: string): void => {
    for (const [dir, p] of nested) {
      if (dir === rel || dir.startsWith(`${rel}/`)) {
        nested.delete(dir);
        void p.then((sub) => sub?.unsubscribe()).catch(() => undefined);
      }
    }
  };

  /** A watch limit or a failure before the subscription stands stops the watcher; others are reported. */
  const fail = async (err: unknown): Promise<void> => {
    const code = errorCode(err);
    const context: Record<string, unknown> & { code?: string } =
      code === undefined ? { root: options.root } : { root: options.root, code };
    if (isWatchLimit(err)) return life.failWatchLimit(context, err);
    const wrapped = new WatchError(
      `watcher error in ${options.root}: ${err instanceof Error ? err.message : String(err)}`,
      context,
      { cause: err },
    );
    if (subscription) life.report(wrapped);
    else await life.fail(wrapped);
  };

  const start = async (): Promise<void> => {
    root = await fs.realpath(options.root);
    try {
      parcel = await loadParcel();
    } catch (err) {
      logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        '@parcel/watcher cannot load here; using chokidar',
      );
      if (life.stopped) return;
      delegate = createChokidarWatcher(options);
      await delegate.ready();
      life.markReady();
      return;
    }
    if (life.stopped) return;
    const sub = await parcel.subscribe(root, onParcelEvents);
    if (life.stopped) {
      await sub.unsubscribe().catch(() => undefined);
      return;
    }
    subscription = sub;
    logger.debug('watcher ready');
    life.markReady();
  };

  start().catch((err: unknown) => {
    void fail(err).finally(() => void life.stop());
  });

  return {
    ready: () => life.ready,
    close: () => life.stop(),
    // parcel keeps its tree natively and does not expose a count.
    watchedCount: () => delegate?.watchedCount() ?? 0,
  };
}
