/** What one manifest write costs at a given size, measured in-process on a real manifest file. */
import { promises as fs } from 'node:fs';
import { Manifest } from '../../src/state/manifest.js';
import { median } from './results.js';

/** Cost of one write: total (stringify + temp file + fsync + rename + dir fsync) and the synchronous part. */
export interface ManifestWriteCost {
  entries: number;
  bytes: number;
  /** Median wall time of Manifest.flush() with a dirty manifest. */
  writeMs: number;
  /** Median time of JSON.stringify of the data: the part that blocks the event loop. */
  stringifyMs: number;
  samples: number;
}

/**
 * Opens the folder's manifest (the caller must hold no lock on it: the daemon has stopped), then
 * times `samples` flushes, each made dirty by a stats update so the whole file is rewritten.
 */
export async function measureManifestWriteCost(
  stateDir: string,
  folder: { name: string; root: string },
  samples = 5,
): Promise<ManifestWriteCost> {
  const manifest = await Manifest.open(stateDir, folder);
  try {
    const writes: number[] = [];
    const stringifies: number[] = [];
    for (let i = 0; i < samples; i++) {
      let t = performance.now();
      JSON.stringify(manifest.data);
      stringifies.push(performance.now() - t);
      manifest.updateStats({ benchProbe: i });
      t = performance.now();
      await manifest.flush();
      writes.push(performance.now() - t);
    }
    const bytes = (await fs.stat(manifest.file)).size;
    return {
      entries: manifest.size,
      bytes,
      writeMs: median(writes),
      stringifyMs: median(stringifies),
      samples,
    };
  } finally {
    await manifest.close();
  }
}
