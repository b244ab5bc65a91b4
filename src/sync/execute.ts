/**
 * The executor: runs planned operations against the Files API and records their outcome in the
 * manifest. Operations on one path run one after another; across paths up to `concurrency` run
 * at once. It never deletes a file ID that the plan did not take from the manifest or an intent.
 *
 * Longer than 350 lines on purpose: every step that must be durable before the next (intent
 * before upload, pending delete before delete, stat check before recording) sits in this one
 * class, so the crash-safety order reads in one place.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ManifestEntry, PendingDelete, PendingUpload, RemoteFile } from '../types.js';
import { sameStat } from './plan.js';
import { describeOp, isUploadOp, opPaths, uploadKey, type HashedEntry, type SyncOp } from './ops.js';
import { KeyedQueue, Semaphore } from '../util/keyed-queue.js';
import { mimeTypeFor } from '../api/mime.js';
import { remoteNameFor } from '../api/filename.js';
import { errorCode, errorMessage, errorStatus } from '../errors.js';

/** The part of the manifest the executor writes through. */
export interface ExecutorManifest {
  get(path: string): ManifestEntry | undefined;
  set(path: string, entry: ManifestEntry): void;
  remove(path: string): void;
  /** Returns the entry the target path had before, if any. */
  rename(from: string, to: string): ManifestEntry | undefined;
  /** The path recorded for a file ID. */
  findByFileId(fileId: string): string | undefined;
  pendingUploads(): PendingUpload[];
  addPendingUpload(p: PendingUpload): unknown;
  removePendingUpload(path: string): void;
  pendingDeletes(): PendingDelete[];
  addPendingDelete(d: PendingDelete): unknown;
  removePendingDelete(fileId: string): void;
  flush(): Promise<void>;
}

/** The part of the Files API client the executor calls. */
export interface ExecutorClient {
  upload(
    source: string,
    opts: {
      filename: string;
      mimeType?: string;
      signal?: AbortSignal | undefined;
      isOwned?: (id: string) => boolean;
    },
  ): Promise<RemoteFile>;
  delete(
    id: string,
    opts?: { signal?: AbortSignal | undefined },
  ): Promise<{ id: string; alreadyGone: boolean }>;
}

export type OutcomeStatus = 'done' | 'failed' | 'changed' | 'refused' | 'ambiguous';

export interface OpOutcome {
  op: SyncOp;
  status: OutcomeStatus;
  fileId?: string | undefined;
  error?: string | undefined;
  httpStatus?: number | undefined;
}

export interface ExecutorEvent {
  type: 'op-start' | 'op-end';
  op: SyncOp;
  outcome?: OpOutcome;
}

export interface ExecutorOptions {
  root: string;
  client: ExecutorClient;
  manifest: ExecutorManifest;
  concurrency: number;
  logger: Logger;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: ExecutorEvent) => void) | undefined;
  /** Injected clock, for tests. */
  now?: () => Date;
}

export interface ExecResult {
  outcomes: OpOutcome[];
  /** Paths to look at again later (changed while uploading, ambiguous outcome, transient failure). */
  retryLater: string[];
}

/** What a log line and an outcome keep of an error. */
function errorInfo(err: unknown): { message: string; status?: number | undefined; name: string } {
  const name = (err as { name?: unknown } | null | undefined)?.name;
  return {
    message: errorMessage(err),
    name: typeof name === 'string' ? name : 'Error',
    status: errorStatus(err),
  };
}

/** Answers that refuse this one file (bad name, empty, too large) while the API works for others. */
const REFUSED_STATUSES = new Set([400, 413, 415, 422]);

/** Answers that will fail every request the same way (bad key, no billing, no permission): stop early. */
export function isFatalStatus(status: number | undefined): boolean {
  return status === 401 || status === 402 || status === 403;
}

/** Errors that mean the local file moved under us: look again later rather than fail. */
function isLocalChange(err: unknown): boolean {
  const name = (err as { name?: unknown } | null | undefined)?.name;
  const code = errorCode(err);
  return (
    name === 'SourceChangedError' ||
    name === 'FileChangedError' ||
    name === 'NotReadableError' ||
    code === 'ENOENT' ||
    code === 'ESTALE'
  );
}

/** Runs operations with per-path ordering and a global concurrency bound. */
export class Executor {
  private readonly sem: Semaphore;
  /** Operations queued or running, keyed by the paths they touch. */
  private readonly paths = new KeyedQueue();
  private readonly now: () => Date;
  /** Uploads queued or running, keyed by upload key: see `upload`. */
  private readonly uploads = new KeyedQueue();
  /** Set by an authentication/permission failure; cleared at the start of each run. */
  private fatal: { error: string; status?: number | undefined } | undefined;

  constructor(private readonly opts: ExecutorOptions) {
    this.sem = new Semaphore(Math.max(1, opts.concurrency));
    this.now = opts.now ?? (() => new Date());
  }

  /** How many paths have an operation queued or running (no copy: read on every file event). */
  inFlightCount(): number {
    return this.paths.size;
  }

  /** Paths with an operation queued or running. */
  inFlight(): Set<string> {
    return new Set(this.paths.keys());
  }

  /** Runs the operations; resolves when all have an outcome (never rejects for one bad file). */
  async run(ops: readonly SyncOp[]): Promise<ExecResult> {
    const { manifest } = this.opts;
    this.fatal = undefined;
    // Intents go to disk in one write before any upload starts: a crash after this point leaves a
    // record of every request that may have created a remote file.
    const startedAt = this.now().toISOString();
    let mustFlush = false;
    // Intents are keyed by path: a path whose older intent this batch still resolves (discards
    // what it created, then drops it) must not have that record overwritten before then, or a
    // crash loses the only trace of those remote files. Its new intent is written just before
    // its upload instead.
    const resolving = new Set<string>();
    for (const op of ops)
      if (op.kind === 'drop-intent' || op.kind === 'discard' || op.kind === 'adopt') resolving.add(op.path);
    const deferredIntents = new Map<string, PendingUpload>();
    for (const op of ops) {
      if (op.kind === 'discard') {
        // Recorded before any intent of this batch is dropped: once an intent goes, this record is
        // the only trace of the stray copy (ops on other paths may drop theirs first).
        manifest.addPendingDelete({ fileId: op.fileId, path: op.path, reason: 'stray', queuedAt: startedAt });
        mustFlush = true;
      }
      if (isUploadOp(op)) {
        const intent: PendingUpload = {
          path: op.path,
          sha256: op.local.sha256,
          size: op.local.size,
          remoteName: remoteNameFor(op.path),
          startedAt,
        };
        if (resolving.has(op.path)) {
          deferredIntents.set(op.path, intent);
        } else {
          manifest.addPendingUpload(intent);
          mustFlush = true;
        }
      }
    }
    if (mustFlush) await manifest.flush();

    const outcomes = await Promise.all(ops.map((op) => this.schedule(op, deferredIntents)));
    const retryLater = new Set<string>();
    for (const o of outcomes) {
      if (o.status === 'changed' || o.status === 'ambiguous' || o.status === 'failed')
        for (const p of opPaths(o.op)) retryLater.add(p);
    }
    return { outcomes, retryLater: [...retryLater] };
  }

  /** `deferredIntents`: intents of this batch to write (durably) right before their upload. */
  private schedule(op: SyncOp, deferredIntents: ReadonlyMap<string, PendingUpload>): Promise<OpOutcome> {
    return this.paths.run(opPaths(op), () =>
      this.sem.with(async () => {
        if (this.fatal !== undefined) {
          // The key or account is refused: every further request would fail the same way.
          const skipped: OpOutcome = {
            op,
            status: 'failed',
            error: `not attempted: ${this.fatal.error}`,
            httpStatus: this.fatal.status,
          };
          this.opts.onEvent?.({ type: 'op-end', op, outcome: skipped });
          return skipped;
        }
        this.opts.onEvent?.({ type: 'op-start', op });
        const outcome = await this.execute(op, deferredIntents);
        if (outcome.status === 'failed' && isFatalStatus(outcome.httpStatus) && this.fatal === undefined)
          this.fatal = { error: outcome.error ?? 'refused', status: outcome.httpStatus };
        this.opts.onEvent?.({ type: 'op-end', op, outcome });
        return outcome;
      }),
    );
  }

  private async execute(op: SyncOp, deferredIntents: ReadonlyMap<string, PendingUpload>): Promise<OpOutcome> {
    const { manifest, logger } = this.opts;
    try {
      switch (op.kind) {
        case 'upload':
        case 'reupload':
          return await this.upload(op, op.path, op.local, undefined, deferredIntents.get(op.path));
        case 'replace':
          return await this.upload(op, op.path, op.local, op.oldFileId, deferredIntents.get(op.path));
        case 'delete':
          manifest.remove(op.path);
          return await this.deleteRemote(op, {
            fileId: op.fileId,
            path: op.path,
            reason: 'removed',
            queuedAt: this.now().toISOString(),
          });
        case 'discard':
          return await this.deleteRemote(op, {
            fileId: op.fileId,
            path: op.path,
            reason: 'stray',
            queuedAt: this.now().toISOString(),
          });
        case 'move': {
          const displaced = manifest.rename(op.from, op.to);
          const e = manifest.get(op.to);
          if (e)
            manifest.set(op.to, { ...e, size: op.local.size, mtimeMs: op.local.mtimeMs, ino: op.local.ino });
          if (displaced && displaced.fileId !== e?.fileId) {
            // The target path had its own remote copy: it is replaced, so it must go.
            return await this.deleteRemote(op, {
              fileId: displaced.fileId,
              path: op.to,
              reason: 'replaced',
              queuedAt: this.now().toISOString(),
            });
          }
          return { op, status: 'done' };
        }
        case 'refresh': {
          const e = manifest.get(op.path);
          if (e)
            manifest.set(op.path, {
              ...e,
              size: op.local.size,
              mtimeMs: op.local.mtimeMs,
              ino: op.local.ino,
            });
          return { op, status: 'done' };
        }
        case 'forget':
          manifest.remove(op.path);
          return { op, status: 'done' };
        case 'adopt': {
          manifest.set(op.path, this.entryFor(op.path, op.local, op.remote));
          manifest.removePendingUpload(op.path);
          if (op.oldFileId) {
            return await this.deleteRemote(
              op,
              { fileId: op.oldFileId, path: op.path, reason: 'replaced', queuedAt: this.now().toISOString() },
              op.remote.id,
            );
          }
          return { op, status: 'done', fileId: op.remote.id };
        }
        case 'drop-intent':
          manifest.removePendingUpload(op.path);
          return { op, status: 'done' };
        case 'delete-done':
          manifest.removePendingDelete(op.fileId);
          return { op, status: 'done' };
      }
    } catch (err) {
      const info = errorInfo(err);
      // Not sent because the client's breaker is open: its cause is reported once, not per file.
      if (info.name === 'BreakerOpenError')
        logger.debug({ op: describeOp(op), err: info }, 'operation not sent');
      else logger.error({ op: describeOp(op), err: info }, 'operation failed');
      return { op, status: 'failed', error: info.message, httpStatus: info.status };
    }
  }

  private entryFor(relPath: string, local: HashedEntry, remote: RemoteFile): ManifestEntry {
    return {
      fileId: remote.id,
      sha256: local.sha256,
      size: local.size,
      mtimeMs: local.mtimeMs,
      ino: local.ino,
      remoteName: remote.filename,
      mimeType: remote.mimeType,
      uploadedAt: this.now().toISOString(),
    };
  }

  /**
   * Uploads of the same remote name and size run one at a time: the API keeps no path or hash, so
   * after an unanswered attempt two concurrent ones could each adopt the other's file (swapped
   * contents). One at a time, the only unclaimed match is the attempt's own.
   */
  private upload(
    op: SyncOp,
    relPath: string,
    local: HashedEntry,
    oldFileId: string | undefined,
    intent: PendingUpload | undefined,
  ): Promise<OpOutcome> {
    return this.uploads.run([uploadKey(remoteNameFor(relPath), local.size)], async () => {
      if (intent) {
        this.opts.manifest.addPendingUpload(intent);
        await this.opts.manifest.flush();
      }
      return this.uploadNow(op, relPath, local, oldFileId);
    });
  }

  /** True for IDs this folder already owns: recorded for a path or waiting to be deleted. */
  private owns(id: string): boolean {
    const { manifest } = this.opts;
    return manifest.findByFileId(id) !== undefined || manifest.pendingDeletes().some((d) => d.fileId === id);
  }

  private async uploadNow(
    op: SyncOp,
    relPath: string,
    local: HashedEntry,
    oldFileId: string | undefined,
  ): Promise<OpOutcome> {
    const { client, manifest, logger, root, signal } = this.opts;
    const abs = path.join(root, ...relPath.split('/'));
    const filename = remoteNameFor(relPath);
    let remote: RemoteFile;
    try {
      remote = await client.upload(abs, {
        filename,
        mimeType: mimeTypeFor(relPath),
        signal,
        // An earlier run's file of the same name and size is ours already, not this attempt's.
        isOwned: (id) => this.owns(id),
      });
    } catch (err) {
      const info = errorInfo(err);
      if (isLocalChange(err)) {
        manifest.removePendingUpload(relPath);
        logger.info({ path: relPath }, 'file changed or vanished while uploading; will look again');
        return { op, status: 'changed', error: info.message };
      }
      if (info.name === 'UploadOutcomeUnknownError') {
        // Keep the intent: reconciliation will find (adopt or discard) whatever the request created.
        logger.warn({ path: relPath, err: info }, 'upload outcome unknown; kept as a pending intent');
        return { op, status: 'ambiguous', error: info.message };
      }
      // A full storage (400 storage_quota_exceeded) is not this file's fault: a failure, not a skip.
      if (
        info.status !== undefined &&
        REFUSED_STATUSES.has(info.status) &&
        info.name !== 'StorageQuotaError'
      ) {
        // A definitive refusal (bad name, empty file, too large): nothing was created.
        manifest.removePendingUpload(relPath);
        logger.warn(
          { path: relPath, status: info.status, err: info.message },
          'the API refused this file; skipped',
        );
        return { op, status: 'refused', error: info.message, httpStatus: info.status };
      }
      throw err;
    }

    // The upload read the file after we hashed it: if the file changed meanwhile, what went up may
    // not match the hash. Discard that copy rather than record a stale hash.
    const after = await fs.lstat(abs).catch(() => undefined);
    if (!after || !sameStat({ ...local, size: after.size, mtimeMs: after.mtimeMs, ino: after.ino }, local)) {
      manifest.removePendingUpload(relPath);
      await this.deleteRemote(op, {
        fileId: remote.id,
        path: relPath,
        reason: 'stray',
        queuedAt: this.now().toISOString(),
      });
      logger.info({ path: relPath }, 'file changed during upload; discarded that copy and will upload again');
      return { op, status: 'changed' };
    }

    manifest.set(relPath, this.entryFor(relPath, local, remote));
    manifest.removePendingUpload(relPath);
    if (oldFileId && oldFileId !== remote.id) {
      const del = await this.deleteRemote(op, {
        fileId: oldFileId,
        path: relPath,
        reason: 'replaced',
        queuedAt: this.now().toISOString(),
      });
      return { ...del, fileId: remote.id, op };
    }
    return { op, status: 'done', fileId: remote.id };
  }

  /** Records a pending delete, sends it, and clears it once the API confirms (404 counts as done). */
  private async deleteRemote(op: SyncOp, pending: PendingDelete, fileId?: string): Promise<OpOutcome> {
    const { client, manifest, logger, signal } = this.opts;
    manifest.addPendingDelete(pending);
    try {
      await client.delete(pending.fileId, { signal });
      manifest.removePendingDelete(pending.fileId);
      return { op, status: 'done', fileId };
    } catch (err) {
      const info = errorInfo(err);
      // The pending delete stays recorded and is retried by the next pass.
      logger.warn({ fileId: pending.fileId, path: pending.path, err: info }, 'delete failed; will retry');
      return { op, status: 'failed', error: info.message, httpStatus: info.status, fileId };
    }
  }

  /** Retries every recorded pending delete; returns how many are still pending. */
  async drainPendingDeletes(): Promise<{ done: number; failed: number }> {
    const { client, manifest, logger, signal } = this.opts;
    let done = 0;
    let failed = 0;
    await Promise.all(
      manifest.pendingDeletes().map((d) =>
        this.sem.with(async () => {
          try {
            await client.delete(d.fileId, { signal });
            manifest.removePendingDelete(d.fileId);
            done++;
          } catch (err) {
            failed++;
            logger.warn(
              { fileId: d.fileId, path: d.path, err: errorInfo(err) },
              'pending delete failed; will retry',
            );
          }
        }),
      ),
    );
    return { done, failed };
  }
}
