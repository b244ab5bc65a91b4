import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { watch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import { afterEach, describe, expect, it } from 'vitest';
import { WatchError, WatchLimitError } from '../../src/local/watch.js';
import { waitFor } from '../helpers/wait.js';
import { cleanupAll, tempDir, watchFolder } from './watch-harness.js';

afterEach(cleanupAll);

function osError(code: string, at: string): Error & { code: string; path: string } {
  return Object.assign(new Error(`${code}: simulated, watch '${at}'`), { code, path: at });
}

/** A real chokidar watcher that the test can reach, to make it emit what the kernel would. */
function capturingWatch(onCreate?: (fsw: FSWatcher) => void): {
  watchFn: typeof watch;
  get: () => FSWatcher;
} {
  let created: FSWatcher | undefined;
  return {
    watchFn: (paths: string | string[], options?: ChokidarOptions) => {
      created = watch(paths, options);
      onCreate?.(created);
      return created;
    },
    get: () => {
      if (created === undefined) throw new Error('chokidar watcher not created yet');
      return created;
    },
  };
}

describe('watcher errors', () => {
  it('on ENOSPC reports one WatchLimitError naming the sysctl, and stops the watcher', async () => {
    const root = await tempDir();
    const fsw = capturingWatch();
    const w = watchFolder(root, { watchFn: fsw.watchFn });
    await w.watcher.ready();
    expect(w.watcher.watchedCount()).toBeGreaterThan(0);

    const chokidar = fsw.get();
    // The kernel refuses every further watch, so errors come in bursts.
    chokidar.emit('error', osError('ENOSPC', path.join(root, 'a')));
    chokidar.emit('error', osError('ENOSPC', path.join(root, 'b')));
    await waitFor(() => w.errors.length > 0 && chokidar.closed, {
      message: 'the limit error and a closed watcher',
    });

    expect(w.errors).toHaveLength(1);
    const err = w.errors[0];
    expect(err).toBeInstanceOf(WatchLimitError);
    expect(err).toBeInstanceOf(WatchError);
    expect(err?.code).toBe('ENOSPC');
    expect(err?.message).toContain('fs.inotify.max_user_watches');
    expect(err?.message).toContain('sudo sysctl fs.inotify.max_user_watches=524288');
    expect(err?.message).toContain('/etc/sysctl.d/');
    expect((err as WatchLimitError).context).toMatchObject({ root, code: 'ENOSPC', path: 'a' });
    expect(w.watcher.watchedCount()).toBe(0);

    await writeFile(path.join(root, 'late.txt'), 'x');
    // A stopped watcher reports nothing; a second watcher is the witness that the write happened.
    const witness = watchFolder(root);
    await witness.watcher.ready();
    await writeFile(path.join(root, 'later.txt'), 'x');
    await waitFor(() => witness.paths('change').has('later.txt'), { message: 'witness sees later.txt' });
    expect(w.events).toEqual([]);
    expect(w.errors).toHaveLength(1);
  });

  it('on ENOSPC during the initial crawl, ready() still resolves, after onError', async () => {
    const root = await tempDir();
    let errorsAtReady = -1;
    const fsw = capturingWatch((created) => {
      queueMicrotask(() => created.emit('error', osError('ENOSPC', root)));
    });
    const w = watchFolder(root, { watchFn: fsw.watchFn });
    await w.watcher.ready().then(() => {
      errorsAtReady = w.errors.length;
    });
    expect(errorsAtReady).toBe(1);
    expect(w.errors[0]).toBeInstanceOf(WatchLimitError);
    await waitFor(() => fsw.get().closed, { message: 'chokidar closed' });
  });

  it('passes other errors on as WatchError and keeps watching', async () => {
    const root = await tempDir();
    const fsw = capturingWatch();
    const w = watchFolder(root, { watchFn: fsw.watchFn });
    await w.watcher.ready();

    fsw.get().emit('error', osError('EACCES', path.join(root, 'private')));
    await waitFor(() => w.errors.length === 1, { message: 'one error' });
    const err = w.errors[0];
    expect(err).toBeInstanceOf(WatchError);
    expect(err).not.toBeInstanceOf(WatchLimitError);
    expect(err?.code).toBe('EACCES');
    expect((err as WatchError).context).toMatchObject({ root, code: 'EACCES', path: 'private' });

    await writeFile(path.join(root, 'still.txt'), 'x');
    await waitFor(() => w.paths('change').has('still.txt'), { message: 'events still flow' });
  });

  it('reports a missing root through onError and resolves ready()', async () => {
    const parent = await tempDir();
    const root = path.join(parent, 'does-not-exist');
    const w = watchFolder(root);
    await w.watcher.ready();
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toBeInstanceOf(WatchError);
    expect(w.errors[0]?.code).toBe('ENOENT');
    expect(w.watcher.watchedCount()).toBe(0);
  });
});
