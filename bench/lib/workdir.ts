/** Scratch directories under os.tmpdir(), never inside the repository, always removed. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PREFIX = 'files-sync-bench-';

/** Creates a fresh scratch directory for one scenario. */
export function makeWorkDir(label: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `${PREFIX}${label}-`));
}

/** Removes a scratch directory (only ever one this module made). */
export async function removeWorkDir(dir: string): Promise<void> {
  if (!path.basename(dir).startsWith(PREFIX) || path.dirname(dir) !== path.resolve(os.tmpdir())) return;
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
