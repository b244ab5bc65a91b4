/** The plain directory walk the baselines share: readdir with file types, regular files only. */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** A counting semaphore: at most `limit` calls of `run` in flight. */
export function createLimiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Absolute paths of every regular file under `root` (symlinks and special files skipped), 16 readdirs at a time. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const limit = createLimiter(16);
  const walk = async (dir: string): Promise<void> => {
    const entries = await limit(() => fs.readdir(dir, { withFileTypes: true }));
    const subdirs: string[] = [];
    for (const d of entries) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) subdirs.push(p);
      else if (d.isFile()) out.push(p);
    }
    await Promise.all(subdirs.map(walk));
  };
  await walk(root);
  return out;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Reads `--name value` pairs from argv. */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) out.set(a.slice(2), argv[i + 1] ?? '');
  }
  return out;
}

/** A required argument, or exit 64 with a usage line. */
export function requireArg(args: Map<string, string>, name: string, usage: string): string {
  const v = args.get(name);
  if (!v) {
    process.stderr.write(`missing --${name}\nusage: ${usage}\n`);
    process.exit(64);
  }
  return v;
}
