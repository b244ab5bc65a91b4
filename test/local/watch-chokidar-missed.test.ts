/** The chokidar backend watches a new directory's subdirectory that chokidar skipped while reading it. */
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { watch, type ChokidarOptions } from 'chokidar';
import { afterEach, describe, it } from 'vitest';
import type { ChokidarWatchFn } from '../../src/local/watch-chokidar.js';
import { waitFor } from '../helpers/wait.js';
import { cleanupAll, tempDir, watchFolder } from './watch-harness.js';

afterEach(cleanupAll);

describe('chokidar: subdirectories it missed', () => {
  it('watches a subdirectory skipped while its new parent was read, and hears what is written into it', async () => {
    const root = await tempDir();
    const skipped = path.join(await realpath(root), 'new', 'a');
    let asked = 0;
    // The race, forced: chokidar reads a new directory before it watches it, and a subdirectory
    // made in between is never seen. Here chokidar is told, the first time it asks, that new/a is
    // to be skipped, as if it did not exist yet when new/ was read.
    const watchFn: ChokidarWatchFn = (paths, options: ChokidarOptions) => {
      const own = options.ignored;
      return watch(paths, {
        ...options,
        ignored: (abs: string, stats) => {
          if (abs === skipped && asked++ === 0) return true;
          return typeof own === 'function' ? own(abs, stats) : false;
        },
      });
    };
    const w = watchFolder(root, { watchFn });
    await w.watcher.ready();

    await mkdir(path.join(root, 'new', 'a', 'b'), { recursive: true });
    await waitFor(() => asked > 0, { message: 'chokidar asked about new/a' });
    let n = 0;
    await waitFor(
      async () => {
        await writeFile(path.join(root, 'new', 'a', 'b', 'late.txt'), String(n++));
        return w.paths('change').has('new/a/b/late.txt');
      },
      { intervalMs: 200, message: () => `a change of new/a/b/late.txt; seen: ${JSON.stringify(w.events)}` },
    );
  });
});
