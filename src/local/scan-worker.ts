// A scan thread: walks one folder (scanFolder, with the filter rebuilt from its options) and posts the result back packed.
import { parentPort, workerData } from 'node:worker_threads';
import { createPathFilter } from './filter.js';
import { FolderUnavailableError, scanFolder } from './scan.js';
import type { ScanReply, ScanRequest } from './scan-thread.js';

const request = workerData as ScanRequest;

async function scan(): Promise<ScanReply> {
  try {
    const result = await scanFolder(request.root, {
      filter: createPathFilter(request.filter),
      followSymlinks: request.followSymlinks,
    });
    // One string and one typed array cross the thread boundary in a copy each; 100k small
    // objects would be cloned one by one and cost the main thread more than the walk saved.
    const paths: string[] = [];
    const numbers = new Float64Array(result.entries.size * 3);
    let i = 0;
    for (const [p, e] of result.entries) {
      paths.push(p);
      numbers[i++] = e.size;
      numbers[i++] = e.mtimeMs;
      numbers[i++] = e.ino;
    }
    return {
      paths: paths.join('\0'),
      numbers,
      skipped: result.skipped,
      dirs: result.dirs,
      unreadableDirs: result.unreadableDirs,
    };
  } catch (err) {
    const unavailable = err instanceof FolderUnavailableError;
    return {
      error: {
        message: err instanceof Error ? err.message : String(err),
        unavailable,
        context: unavailable ? err.context : { root: request.root },
      },
    };
  }
}

const reply = await scan();
parentPort!.postMessage(reply, 'numbers' in reply ? [reply.numbers.buffer] : []);
