/** What one manifest write costs at a given size, measured in-process on a real manifest. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Manifest } from '../../src/state/manifest.js';
import { dataDirOf } from '../../src/state/manifest-files.js';
import { median } from './results.js';

/** Cost of the writes a change makes: the journal append, the snapshot of one shard, and the old whole-file write. */
export interface ManifestWriteCost {
  entries: number;
  /** Bytes of the head and all shard files. */
  bytes: number;
  /** Median wall time of flush() after one entry changed: one journal line, fdatasync. */
  writeMs: number;
  /** Median wall time of a snapshot after one entry changed: one shard file and the head. */
  snapshotMs: number;
  /** Median time of JSON.stringify of the whole state: what every write cost before the journal (v2). */
  stringifyMs: number;
  /** Bytes of that whole-state JSON: what every write wrote before the journal (v2). */
  wholeBytes: number;
  samples: number;
}

/**
 * Opens the folder's manifest (the caller must hold no lock on it: the daemon has stopped), then
 * times `samples` rounds of: change one entry and flush; change one entry and snapshot.
 */
export async function measureManifestWriteCost(
  stateDir: string,
  folder: { name: string; root: string },
  samples = 5,
): Promise<ManifestWriteCost> {
  const manifest = await Manifest.open(stateDir, folder);
  try {
    const writes: number[] = [];
    const snapshots: number[] = [];
    const stringifies: number[] = [];
    let wholeBytes = 0;
    const [first] = manifest.entries();
    for (let i = 0; i < samples; i++) {
      let t = performance.now();
      const whole = JSON.stringify(manifest.toData());
      stringifies.push(performance.now() - t);
      wholeBytes = Buffer.byteLength(whole);
      if (first) manifest.set(first[0], { ...first[1], mtimeMs: first[1].mtimeMs + i + 1 });
      else manifest.updateStats({ benchProbe: i });
      t = performance.now();
      await manifest.flush();
      writes.push(performance.now() - t);
      if (first) manifest.set(first[0], { ...first[1], mtimeMs: first[1].mtimeMs + i + 2 });
      t = performance.now();
      await manifest.snapshot();
      snapshots.push(performance.now() - t);
    }
    if (first) manifest.set(first[0], first[1]);
    await manifest.close();
    let bytes = (await fs.stat(manifest.file)).size;
    const dir = dataDirOf(manifest.file);
    for (const name of await fs.readdir(dir)) bytes += (await fs.stat(path.join(dir, name))).size;
    return {
      entries: manifest.size,
      bytes,
      writeMs: median(writes),
      snapshotMs: median(snapshots),
      stringifyMs: median(stringifies),
      wholeBytes,
      samples,
    };
  } finally {
    await manifest.close();
  }
}
