/**
 * The @parcel/watcher backend: native, one inotify watch per directory instead of chokidar's
 * per-file watchers, so it stays light on large trees (measured in bench: watch memory).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AsyncSubscription, Event as ParcelEvent } from '@parcel/watcher';
import { WatchError, watchLimitError, errorCode, createChokidarWatcher, type FolderWatcher, type WatchEvent, type WatchOptions } from './watch.js';

type ParcelModule = typeof import('@parcel/watcher');

let parcelModule: Promise<ParcelModule> | undefined;

/** Loads the native module once; a platform without a prebuilt binary fails here, not at import. */
function loadParcel(): Promise<ParcelModule> {
  parcelModule ??= import('@parcel/watcher').then((m) => ((m as { default?: ParcelModule }).default ?? m) as ParcelModule);
  return parcelModule;
}

function isWatchLimit(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return errorCode(err) === 'ENOSPC' || /no space left on device|ENOSPC|inotify_add_watch/i.test(message);
}

/** Starts a @parcel/watcher subscription behind the FolderWatcher interface (see createWatcher). */
export function createParcelWatcher(options: WatchOptions): FolderWatcher {
  const { filter, onEvents, onError } = options;
  const logger = options.logger.child({ component: 'watch', backend: 'parcel', root: options.root });
  let subscription: AsyncSubscription | undefined;
  /** chokidar, when the native module cannot load on this platform. */
  let delegate: FolderWatcher | undefined;
  let stopped = false;
  let closePromise: Promise<void> | undefined;
  let markReady!: () => void;
  const readyPromise = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  let root = options.root;

  const relative = (abs: string): string | undefined => {
    const rel = path.relative(root, abs);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
    return path.sep === '/' ? rel : rel.split(path.sep).join('/');
  };

  // parcel does not say whether a path is a directory: lstat once per created/updated path.
  const translate = async (events: ParcelEvent[]): Promise<WatchEvent[]> => {
    const out: WatchEvent[] = [];
    await Promise.all(
      events.map(async (e) => {
        const rel = relative(e.path);
        if (rel === undefined) return;
        if (e.type === 'delete') {
          if (filter.matchesFile(rel)) out.push({ type: 'unlink', path: rel });
          if (filter.mayContain(rel)) out.push({ type: 'unlink-dir', path: rel });
          return;
        }
        const st = await fs.lstat(e.path).catch(() => undefined);
        if (st?.isDirectory()) {
          if (filter.mayContain(rel)) out.push({ type: 'dir', path: rel });
        } else if (filter.matchesFile(rel)) {
          // Gone again, a file, a symlink or a special file: the consumer's lstat decides.
          out.push({ type: 'change', path: rel });
        }
      }),
    );
    return out;
  };

  const stop = (): Promise<void> => {
    if (closePromise !== undefined) return closePromise;
    stopped = true;
    if (delegate) {
      closePromise = delegate.close().finally(markReady);
      return closePromise;
    }
    const sub = subscription;
    subscription = undefined;
    closePromise = (sub === undefined ? Promise.resolve() : sub.unsubscribe()).catch(() => undefined).finally(markReady);
    return closePromise;
  };

  const fail = async (err: unknown): Promise<void> => {
    if (stopped) return;
    const code = errorCode(err);
    const context: Record<string, unknown> & { code?: string } = code === undefined ? { root: options.root } : { root: options.root, code };
    const wrapped = isWatchLimit(err)
      ? await watchLimitError(options.root, { ...context, code: 'ENOSPC' }, err)
      : new WatchError(`watcher error in ${options.root}: ${err instanceof Error ? err.message : String(err)}`, context, { cause: err });
    if (isWatchLimit(err)) logger.warn({ code: 'ENOSPC' }, 'inotify watch limit reached; watcher stopped');
    try {
      onError(wrapped);
    } finally {
      if (isWatchLimit(err) || !subscription) await stop();
    }
  };

  const start = async (): Promise<void> => {
    root = await fs.realpath(options.root);
    let parcel: ParcelModule;
    try {
      parcel = await loadParcel();
    } catch (err) {
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, '@parcel/watcher cannot load here; using chokidar');
      if (stopped) return;
      delegate = createChokidarWatcher(options);
      await delegate.ready();
      markReady();
      return;
    }
    if (stopped) return;
    const sub = await parcel.subscribe(root, (err, events) => {
      if (stopped) return;
      if (err) {
        void fail(err);
        return;
      }
      void translate(events).then((batch) => {
        if (!stopped && batch.length > 0) onEvents(batch);
      });
    });
    if (stopped) {
      await sub.unsubscribe().catch(() => undefined);
      return;
    }
    subscription = sub;
    logger.debug('watcher ready');
    markReady();
  };

  start().catch((err: unknown) => {
    void fail(err).finally(() => void stop());
  });

  return {
    ready: () => readyPromise,
    close: () => stop(),
    // parcel keeps its tree natively and does not expose a count.
    watchedCount: () => delegate?.watchedCount() ?? 0,
  };
}
