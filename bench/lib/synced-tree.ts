/** A tree of small files already "in sync": written, recorded in a manifest, present in the emulator. */
import path from 'node:path';
import type { EmulatorCore } from '../../src/emulator/index.js';
import { writeCorpus, type CorpusSpec, type WrittenCorpus } from '../corpus.js';
import { seedSyncedState } from './product.js';

/** Small files, as in a folder of notes and documents: 200 B to 8 KB, 100 per directory. */
export function smallFilesSpec(seed: number, files: number): CorpusSpec {
  return { seed, files, minSize: 200, maxSize: 8 * 1024, filesPerDir: 100 };
}

/** A synced tree and where its state lives. */
export interface SyncedTree {
  root: string;
  stateDir: string;
  corpus: WrittenCorpus;
  manifestBytes: number;
}

/** Writes `files` small files under `<dir>/tree` and seeds `<dir>/state` and the emulator with them. */
export async function prepareSyncedTree(
  dir: string,
  options: { seed: number; files: number; emulator: EmulatorCore },
): Promise<SyncedTree> {
  const root = path.join(dir, 'tree');
  const stateDir = path.join(dir, 'state');
  const corpus = await writeCorpus(root, smallFilesSpec(options.seed, options.files), { hash: true });
  const seeded = await seedSyncedState({
    root,
    stateDir,
    files: corpus.files,
    sha256: corpus.sha256,
    emulator: options.emulator,
  });
  return { root, stateDir, corpus, manifestBytes: seeded.manifestBytes };
}
