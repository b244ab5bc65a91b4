// The state dir's layout: created private, one manifest file per folder name.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { InvalidFolderNameError } from './errors.js';

/** Creates the state directory (and missing parents) private to the user: it maps paths to file IDs. */
export async function ensureStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
}

/** The manifest file of one folder: `<stateDir>/<folderName>.manifest.json`. */
export function manifestPath(stateDir: string, folderName: string): string {
  assertFolderName(folderName);
  return path.join(stateDir, `${folderName}.manifest.json`);
}

/** Throws InvalidFolderNameError unless the name is safe as one file name component. */
export function assertFolderName(name: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name) || name.length > 200) {
    throw new InvalidFolderNameError(`folder name cannot be used as a file name: ${JSON.stringify(name)}`, {
      name,
    });
  }
}
