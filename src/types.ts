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
  /** ISO-8601 time the remote copy expires (`expires_in_seconds` at upload); absent when it does not. */
  expiresAt?: string | undefined;
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

/**
 * A file ID that must be deleted remotely (removed path, replaced version, stray copy of ours, or
 * a suspect in a workspace declared exclusive). It stays valid until `notBefore` (retention).
 */
export interface PendingDelete {
  fileId: string;
  /** The path it belonged to, for messages only. */
  path: string;
  reason: 'removed' | 'replaced' | 'stray' | 'suspect';
  /** ISO-8601 time it was queued. */
  queuedAt: string;
  /** ISO-8601 time before which it is not sent (consumers may still hold the ID); absent = at once. */
  notBefore?: string | undefined;
  /** A removal released by an explicit command (release-deletes, --allow-mass-delete): never held again. */
  released?: boolean | undefined;
  /**
   * A removed path's entry as it was (content hash, the name and type the API keeps, when it was
   * uploaded and expires), so that the same content reappearing under the same name while the ID
   * is still retained takes the ID back: a move whose two halves fell into different batches.
   */
  sha256?: string | undefined;
  remoteName?: string | undefined;
  mimeType?: string | undefined;
  uploadedAt?: string | undefined;
  expiresAt?: string | undefined;
}

/**
 * A remote file that may have been created by one of our unanswered uploads but cannot be proven
 * ours (several candidates, or created too close to the attempt's start to tell by the server's
 * clock). Reported, never adopted; deleted only in a workspace declared exclusive.
 */
export interface Suspect {
  fileId: string;
  filename: string;
  sizeBytes: number;
  /** The server's created_at. */
  createdAt: string;
  /** The local path whose upload it may belong to. */
  path: string;
  why: string;
  /** ISO-8601 time it was recorded. */
  recordedAt: string;
}

/**
 * An upload attempt that got no answer and whose file may still appear (a server can finish a
 * request after the client gave up). Kept until a listing taken after `settleAfter` looked for it.
 */
export interface UnsettledAttempt {
  path: string;
  remoteName: string;
  size: number;
  /** ISO-8601 local time the attempt began. */
  startedAt: string;
  /** ISO-8601 local time after which a listing can settle it. */
  settleAfter: string;
}

/** A previous file ID of a path that is still alive (superseded or removed, waiting for its retention). */
export interface PreviousId {
  fileId: string;
  reason: PendingDelete['reason'];
  /** ISO-8601 time until which the ID stays valid at least. */
  until: string;
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
