// A scan thread: walks one folder (scanFolder, with the filter rebuilt from its options), sends what it found in batches as it goes, then the rest with the result.
import { parentPort, workerData } from 'node:worker_threads';
import type { LocalEntry } from '../types.js';
import { createPathFilter } from './filter.js';
import { FolderUnavailableError, scanFolder } from './scan.js';
import type { PackedEntries, ScanReply, ScanRequest } from './scan-thread.js';

/** How often the entries found so far are sent (a 100k-file walk takes about a second). */
const BATCH_MS = 100;

const request = workerData as ScanRequest;
const found = new Map<string, LocalEntry>();
// A live iterator over `found`: it goes on to entries added after it was made, as long as it is
// never run to its end, so each batch is read from where the last one stopped.
const unsent = found.values();
let sent = 0;

/**
 * The entries found since the last call. One string and one typed array cross the thread boundary
 * in a copy each; 100k small objects would be cloned one by one and cost the main thread more
 * than the walk saved.
 */
function takeUnsent(): PackedEntries {
  const count = found.size - sent;
  const paths: string[] = [];
  const numbers = new Float64Array(count * 3);
  for (let i = 0; i < count; i++) {
    const e = unsent.next().value as LocalEntry;
    paths.push(e.path);
    numbers[i * 3] = e.size;
    numbers[i * 3 + 1] = e.mtimeMs;
    numbers[i * 3 + 2] = e.ino;
  }
  sent += count;
  return { paths: paths.join('\0'), numbers };
}

function post(reply: ScanReply): void {
  const numbers = 'batch' in reply ? reply.batch.numbers : 'numbers' in reply ? reply.numbers : undefined;
  parentPort!.postMessage(reply, numbers ? [numbers.buffer] : []);
}

async function scan(): Promise<ScanReply> {
  try {
    const result = await scanFolder(request.root, {
      filter: createPathFilter(request.filter),
      followSymlinks: request.followSymlinks,
      found,
    });
    return {
      ...takeUnsent(),
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

// Batches let the main thread take in (and compare) the first files while the walk goes on; the
// timer runs between directories, whose reads are the walk's asynchronous steps.
const batches = setInterval(() => {
  if (found.size > sent) post({ batch: takeUnsent() });
}, request.batchMs ?? BATCH_MS);
const reply = await scan();
clearInterval(batches);
post(reply);
