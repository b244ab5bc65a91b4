import { memfs, type NestedDirectoryJSON } from 'memfs';
import type { FsLike } from '../../src/local/scan.js';
import type { HashFs } from '../../src/local/hash.js';

export interface TestFs {
  /** The memfs `fs` module (sync helpers for arranging a tree). */
  fs: ReturnType<typeof memfs>['fs'];
  /** The promises API typed as what the code under test expects. */
  api: FsLike & HashFs;
}

/**
 * A memfs volume seen by a non-root user, so that permission bits are enforced (the test machine
 * may run as root, for whom a chmod 000 directory is still readable).
 */
export function createTestFs(tree: NestedDirectoryJSON = {}): TestFs {
  const proc = {
    ...process,
    getuid: () => 1000,
    getgid: () => 1000,
    cwd: () => '/',
    platform: 'linux' as const,
    env: {},
  };
  const { fs } = memfs(tree, { cwd: '/', process: proc as unknown as NodeJS.Process });
  // memfs types stats as number | bigint; it returns numbers unless asked for bigint.
  return { fs, api: fs.promises as unknown as FsLike & HashFs };
}

/** Wraps an fs so every call is recorded and calls can be made to fail or be held. */
export function recordingFs(
  inner: FsLike,
  hooks: { beforeCall?: (op: string, path: string) => void | Promise<void> } = {},
) {
  const calls: Array<{ op: string; path: string }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const wrap =
    <A extends unknown[], R>(op: string, fn: (path: string, ...rest: A) => Promise<R>) =>
    async (path: string, ...rest: A): Promise<R> => {
      calls.push({ op, path });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await hooks.beforeCall?.(op, path);
        return await fn(path, ...rest);
      } finally {
        inFlight--;
      }
    };
  const fs: FsLike = {
    lstat: wrap('lstat', (p) => inner.lstat(p)),
    stat: wrap('stat', (p) => inner.stat(p)),
    // One wrapper for both readdir overloads (string and raw-byte names); the options pass through.
    readdir: wrap('readdir', (p, o: { withFileTypes: true }) => inner.readdir(p, o)) as FsLike['readdir'],
  };
  return { fs, calls, maxInFlight: () => maxInFlight };
}

/** An Error shaped like a node:fs errno error. */
export function fsError(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code, path });
}
