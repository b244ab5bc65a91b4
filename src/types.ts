/**
 * The models every part of files-sync shares. Paths are always relative to a folder root and use
 * POSIX separators ("contracts/2026/acme.pdf"), never a leading "./" or "/".
 */

/** What the scanner sees of one local regular file. sha256 is filled only once it was hashed. */
export interface LocalEntry {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  sha256?: string;
}

/** What the manifest remembers of one synced path. */
export interface ManifestEntry {
  fileId: string;
  sha256: string;
  size: number;
  mtimeMs: number;
  ino: number;
  /** The filename the API stores (last path component, sanitised). */
  remoteName: string;
  mimeType: string;
  /** ISO-8601 time the upload was recorded. */
  uploadedAt: string;
}

/**
 * Written before an upload request and removed once its file ID is recorded; lets a later run find
 * (adopt or discard) the remote file an interrupted upload may have created.
 */
export interface PendingUpload {
  path: string;
  sha256: string;
  size: number;
  remoteName: string;
  /** ISO-8601 time the first attempt began. */
  startedAt: string;
}

/** A file ID that must be deleted remotely (removed path, replaced version, stray). */
export interface PendingDelete {
  fileId: string;
  /** The path it belonged to, for messages only. */
  path: string;
  reason: 'removed' | 'replaced' | 'stray';
  /** ISO-8601 time it was queued. */
  queuedAt: string;
}

/** The API's metadata of one remote file. */
export interface RemoteFile {
  id: string;
  filename: string;
  mimeType: string;
  sizeBytes: number;
  /** RFC 3339 as the API sends it. */
  createdAt: string;
  downloadable: boolean;
  /** RFC 3339 time the file expires; null when it never does; absent when the API did not say (beta). */
  expiresAt?: string | null | undefined;
}
