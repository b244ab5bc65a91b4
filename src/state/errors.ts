// Typed errors of the state dir: the lock, the manifest and folder names.
import { FilesSyncError } from '../errors.js';

/** Another live process holds the state directory's lock. */
export class StateLockedError extends FilesSyncError {}

/** The manifest file cannot be parsed or does not have the manifest's shape; it was left untouched. */
export class ManifestCorruptError extends FilesSyncError {}

/** The manifest was written by a newer files-sync than this one. */
export class ManifestVersionError extends FilesSyncError {}

/** No manifest exists for the folder (read-only access never creates one). */
export class ManifestNotFoundError extends FilesSyncError {}

/** Writing the manifest failed; the data stays dirty in memory and the write is retried. */
export class ManifestWriteError extends FilesSyncError {}

/** A folder name that cannot be used as part of a file name in the state directory. */
export class InvalidFolderNameError extends FilesSyncError {}

/** The manifest was used after close(). */
export class ManifestClosedError extends FilesSyncError {}
