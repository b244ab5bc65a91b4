/** A cheap look at a folder root: is it there, and is it still the same directory (device + inode)? */
import fs from 'node:fs/promises';
import { errorMessage } from '../errors.js';

export interface RootCheck {
  /** `dev:ino` of the root directory ('' when missing). */
  id: string;
  /** Why the root is not usable (missing, not a directory, unreadable), else undefined. */
  missing?: string | undefined;
}

/** Stats the root (following a symlinked root, as the scan does). */
export async function checkRoot(root: string): Promise<RootCheck> {
  try {
    const st = await fs.stat(root);
    if (!st.isDirectory()) return { id: '', missing: `not a directory: ${root}` };
    return { id: `${st.dev}:${st.ino}` };
  } catch (err) {
    return { id: '', missing: errorMessage(err) };
  }
}
