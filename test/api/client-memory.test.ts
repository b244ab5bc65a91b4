import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FilesClient } from '../../src/api/client.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { clientFor, startTestEmulator, tempDir } from './support.js';

let emu: RunningEmulator;
let client: FilesClient;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  tmp = await tempDir();
  emu = await startTestEmulator();
  client = clientFor(emu, { maxRetries: 0 });
});
afterAll(async () => {
  await client.close();
  await emu.close();
  await tmp.cleanup();
});

const MB = 1024 * 1024;

it('uploads 200 MB without growing RSS by 50 MB (correctness bound, not a benchmark)', async () => {
  const size = 200 * MB;
  const path = join(tmp.dir, 'big.bin');
  // Sparse except for a few written blocks: cheap to create, still 200 MB to stream.
  const fh = await open(path, 'w');
  await fh.truncate(size);
  for (let off = 0; off < size; off += 16 * MB) await fh.write(Buffer.alloc(4096, off / MB), 0, 4096, off);
  await fh.close();

  // Warm up with a sizeable upload: the first one grows V8's young generation and the allocator's
  // pools to their steady size (~30 MB here), which is a one-time cost, not one per upload.
  const warm = join(tmp.dir, 'warm.bin');
  const wh = await open(warm, 'w');
  await wh.truncate(64 * MB);
  await wh.close();
  await client.upload(warm, { filename: 'warm.bin' });

  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const file = await client.upload(path, { filename: 'big.bin' });
    expect(file.sizeBytes).toBe(size);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const growthMb = (peak - before) / MB;
  expect(growthMb).toBeLessThan(50);
  expect(emu.files().find((f) => f.filename === 'big.bin')?.sizeBytes).toBe(size);
}, 120_000);
