/**
 * Deterministic benchmark corpora: the same seed gives the same names, sizes and bytes on every
 * machine. Content is sliced from one seeded pool at per-file offsets behind a per-file header, so
 * it is generated at disk speed yet no two files are identical (the sync engine would otherwise
 * see copies, and a hash benchmark would hash one repeated block).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createPrng, logUniformSize, randomInt, seededBytes } from './lib/prng.js';

/** What a corpus looks like; planCorpus turns it into names and sizes. */
export interface CorpusSpec {
  seed: number;
  files: number;
  minSize: number;
  maxSize: number;
  /** Files per leaf directory (default 100). */
  filesPerDir?: number;
  /** Leaf directories per top-level directory (default 50). */
  dirsPerTop?: number;
}

/** One planned file: relative POSIX path and size in bytes. */
export interface CorpusFile {
  path: string;
  size: number;
  /** Position in the corpus (part of the name, so basenames are unique). */
  index: number;
}

/** A written corpus: every file with its SHA-256 when asked for. */
export interface WrittenCorpus {
  root: string;
  files: CorpusFile[];
  bytes: number;
  /** Relative path -> sha256 hex (only when writeCorpus was asked to hash). */
  sha256: Map<string, string>;
  writeMs: number;
}

const EXTENSIONS = ['txt', 'md', 'pdf', 'json', 'csv', 'html', 'png', 'docx'] as const;
const POOL_BYTES = 8 << 20;
const HEADER_BYTES = 96;

const pools = new Map<number, Buffer>();

function contentPool(seed: number): Buffer {
  let pool = pools.get(seed);
  if (!pool) {
    pool = seededBytes(seed ^ 0x5bd1e995, POOL_BYTES);
    pools.set(seed, pool);
  }
  return pool;
}

/** Names and sizes of a corpus; pure and deterministic. */
export function planCorpus(spec: CorpusSpec): CorpusFile[] {
  const next = createPrng(spec.seed);
  const perDir = spec.filesPerDir ?? 100;
  const dirsPerTop = spec.dirsPerTop ?? 50;
  const width = String(Math.max(0, spec.files - 1)).length;
  const files: CorpusFile[] = [];
  for (let i = 0; i < spec.files; i++) {
    const leaf = Math.floor(i / perDir);
    const ext = EXTENSIONS[randomInt(next, 0, EXTENSIONS.length - 1)]!;
    const size = logUniformSize(next, spec.minSize, spec.maxSize);
    const name = `f${String(i).padStart(width, '0')}.${ext}`;
    files.push({ path: `t${Math.floor(leaf / dirsPerTop)}/d${leaf % dirsPerTop}/${name}`, size, index: i });
  }
  return files;
}

/**
 * The bytes of one file: a readable header naming seed, index, size and `variant` (edits pass a
 * new variant to get new content at the same path), then pool bytes from a seeded offset.
 */
export function fileContent(seed: number, index: number, size: number, variant = 0): Buffer {
  const pool = contentPool(seed);
  const out = Buffer.allocUnsafe(size);
  const header = Buffer.from(
    `files-sync bench seed=${seed} file=${index} variant=${variant} size=${size}\n`.padEnd(HEADER_BYTES, '.'),
  );
  const headerLength = Math.min(size, header.length);
  header.copy(out, 0, 0, headerLength);
  let written = headerLength;
  let offset =
    createPrng(seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(variant, 0x85ebca6b))() * POOL_BYTES;
  offset = Math.floor(offset);
  while (written < size) {
    const n = Math.min(size - written, POOL_BYTES - offset);
    pool.copy(out, written, offset, offset + n);
    written += n;
    offset = 0;
  }
  return out;
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

/** Writes a planned corpus under `root` (created); optionally hashes each file's content as it goes. */
export async function writeCorpus(
  root: string,
  spec: CorpusSpec,
  options: { hash?: boolean; concurrency?: number } = {},
): Promise<WrittenCorpus> {
  const started = performance.now();
  const files = planCorpus(spec);
  const dirs = new Set(files.map((f) => path.posix.dirname(f.path)));
  await fs.mkdir(root, { recursive: true });
  await mapLimit([...dirs], 16, async (d) => {
    await fs.mkdir(path.join(root, ...d.split('/')), { recursive: true });
  });
  const sha256 = new Map<string, string>();
  let bytes = 0;
  await mapLimit(files, options.concurrency ?? 32, async (f) => {
    const content = fileContent(spec.seed, f.index, f.size);
    if (options.hash) sha256.set(f.path, createHash('sha256').update(content).digest('hex'));
    bytes += f.size;
    await fs.writeFile(path.join(root, ...f.path.split('/')), content);
  });
  return { root, files, bytes, sha256, writeMs: performance.now() - started };
}

/** Writes one large file of `size` bytes in 8 MiB chunks that differ from each other. */
export async function writeLargeFile(file: string, size: number, seed: number): Promise<void> {
  const pool = contentPool(seed);
  const handle = await fs.open(file, 'w');
  try {
    const chunk = Buffer.allocUnsafe(POOL_BYTES);
    let written = 0;
    for (let i = 0; written < size; i++) {
      // Rotate the pool by a different amount per chunk so no two chunks are equal.
      const rotate = (Math.imul(i + 1, 2654435761) >>> 0) % POOL_BYTES;
      pool.copy(chunk, 0, rotate);
      pool.copy(chunk, POOL_BYTES - rotate, 0, rotate);
      const n = Math.min(chunk.length, size - written);
      await handle.write(chunk, 0, n);
      written += n;
    }
  } finally {
    await handle.close();
  }
}
