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
import type {
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  RemoteFile,
  Suspect,
  UnsettledAttempt,
} from '../types.js';
import { DeleteGuardState, overLimit, RELEASE_HINT, type SafetyLimits } from './safety.js';
import { sameStat } from './plan.js';
import { describeOp, isUploadOp, opPaths, uploadKey, type HashedEntry, type SyncOp } from './ops.js';
import { KeyedQueue, Semaphore } from '../util/keyed-queue.js';
import type { ForeignClaims } from './foreign-claims.js';
import { mimeTypeFor } from '../api/mime.js';
import { remoteNameFor } from '../api/filename.js';
import { errorCode, errorMessage, errorStatus } from '../errors.js';
import { collectGarbageEvery } from '../util/collect-garbage.js';

/**
 * The part of the state store (src/state/store.ts) the executor writes through; any StateStore is
 * one. Kept as a subset so executor tests can script a small in-memory one.
 */
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
  pendingDelete(fileId: string): PendingDelete | undefined;
  addPendingDelete(d: PendingDelete): unknown;
  removePendingDelete(fileId: string): void;
  suspects(): Suspect[];
  suspect(fileId: string): Suspect | undefined;
  addSuspect(s: Suspect): unknown;
  removeSuspect(fileId: string): void;
  unsettled(): UnsettledAttempt[];
  addUnsettled(a: UnsettledAttempt): unknown;
  removeUnsettled(a: Pick<UnsettledAttempt, 'path' | 'startedAt'>): void;
  readonly size: number;
  flush(): Promise<void>;
}

/** Upload intents written ahead per journal line: few lines for a big batch, few intents held at once. */
/** A batch this large collects garbage as it goes (see collectGarbageEvery): a first sync of 100k files. */
const COLLECT_EVERY_OPS = 10_000;
const INTENT_WINDOW = 64;

/** The part of the Files API client the executor calls. */
export interface ExecutorClient {
  upload(
    source: string,
    opts: {
      filename: string;
      mimeType?: string;
      signal?: AbortSignal | undefined;
      isOwned?: ((id: string) => boolean) | undefined;
      foreign?: ForeignClaims | undefined;
      onSuspects?: ((files: RemoteFile[], why: string) => Promise<void> | void) | undefined;
      onUnsettled?:
        | ((a: {
            filename: string;
            sizeBytes: number;
            startedAt: Date;
            settleAfter: Date;
          }) => Promise<void> | void)
        | undefined;
      /** The hashed version; a client that sent exactly it calls `onVersionSent`. */
      expected?: { size: number; mtimeMs: number; ino: number } | undefined;
      onVersionSent?: (() => void) | undefined;
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
  /** How long superseded and removed files' IDs stay valid before their delete is sent (ms; default 0). */
  retention?: { supersededMs: number; removedMs: number } | undefined;
  /** The workspace is declared exclusive to files-sync: suspects are deleted rather than kept. */
  exclusive?: boolean | undefined;
  /** IDs any folder of this process knows (manifest, queued deletes, suspects): never adopted. */
  isOwned?: ((id: string) => boolean) | undefined;
  /** Other folders' claims in a shared state database, asked live before adopting or deleting a file not provably ours. */
  foreign?: ForeignClaims | undefined;
  /** Delete guard limits for the queue (default: no limit). */
  limits?: SafetyLimits | undefined;
}

/** What one drain of the delete queue did. */
export interface DrainResult {
  done: number;
  failed: number;
  /** Removals the guard holds (not sent). */
  held: number;
  heldReason?: string | undefined;
  /** Deletes waiting for their retention time. */
  waiting: number;
  /** When the next waiting delete becomes due (ms since the epoch), if any. */
  nextDueAt?: number | undefined;
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
  /** Paths of ops a batch holds but has not handed to `paths` yet (the bounded pool): still busy. */
  private readonly waiting = new Map<string, number>();
  /** The executor's clock (retention times are measured by it). */
  readonly now: () => Date;
  /** Uploads queued or running, keyed by upload key: see `upload`. */
  private readonly uploads = new KeyedQueue();
  /** Set by an authentication/permission failure; cleared at the start of each run. */
  private fatal: { error: string; status?: number | undefined } | undefined;
  /** The delete guard's memory: held paths, removals sent in the window, whether a hold was announced. */
  readonly guard: DeleteGuardState;

  constructor(private readonly opts: ExecutorOptions) {
    this.sem = new Semaphore(Math.max(1, opts.concurrency));
    this.now = opts.now ?? (() => new Date());
    this.guard = new DeleteGuardState(() => this.now().getTime());
  }

  /** A pending delete for `fileId`, valid until its retention for `reason` has passed. */
  private queued(fileId: string, relPath: string, reason: PendingDelete['reason']): PendingDelete {
    const now = this.now();
    const r = this.opts.retention;
    const keepMs =
      reason === 'replaced' ? (r?.supersededMs ?? 0) : reason === 'removed' ? (r?.removedMs ?? 0) : 0;
    const d: PendingDelete = { fileId, path: relPath, reason, queuedAt: now.toISOString() };
    if (keepMs > 0) d.notBefore = new Date(now.getTime() + keepMs).toISOString();
    return d;
  }

  /** A removed path's pending delete, with what a later move needs to take its ID back. */
  private queuedRemoval(relPath: string, e: ManifestEntry): PendingDelete {
    const d = this.queued(e.fileId, relPath, 'removed');
    if (d.notBefore === undefined) return d; // sent at the end of this pass: nothing to take back
    Object.assign(d, {
      sha256: e.sha256,
      remoteName: e.remoteName,
      mimeType: e.mimeType,
      uploadedAt: e.uploadedAt,
    });
    if (e.expiresAt !== undefined) d.expiresAt = e.expiresAt;
    return d;
  }

  /**
   * A move whose source was removed by an earlier pass: the entry is made again at the new path
   * from the queued delete, which goes in the same durable batch (neither a deleted ID recorded
   * nor a recorded ID deleted). Fails, so the path is looked at again and uploaded, if the delete
   * is no longer queued as planned.
   */
  private takeBack(op: Extract<SyncOp, { kind: 'move' }>, planned: PendingDelete): OpOutcome {
    const { manifest } = this.opts;
    const d = manifest.pendingDelete(planned.fileId);
    if (
      d?.reason !== 'removed' ||
      d.sha256 !== op.local.sha256 ||
      d.remoteName === undefined ||
      d.mimeType === undefined ||
      d.uploadedAt === undefined
    )
      return { op, status: 'failed', error: `${planned.fileId} is no longer queued for deletion` };
    const e: ManifestEntry = {
      fileId: d.fileId,
      sha256: d.sha256,
      size: op.local.size,
      mtimeMs: op.local.mtimeMs,
      ino: op.local.ino,
      remoteName: d.remoteName,
      mimeType: d.mimeType,
      uploadedAt: d.uploadedAt,
    };
    if (d.expiresAt !== undefined) e.expiresAt = d.expiresAt;
    const displaced = manifest.get(op.to);
    manifest.set(op.to, e);
    manifest.removePendingDelete(d.fileId);
    if (displaced && displaced.fileId !== d.fileId)
      manifest.addPendingDelete(this.queued(displaced.fileId, op.to, 'replaced'));
    return { op, status: 'done', fileId: d.fileId };
  }

  /** Removals queued (waiting or due) in the manifest: what the guard counts besides a plan. */
  queuedRemovals(): number {
    let n = 0;
    for (const d of this.opts.manifest.pendingDeletes()) if (isGuarded(d)) n++;
    return n;
  }

  /** How many paths have an operation queued or running (no copy: read on every file event). */
  inFlightCount(): number {
    return this.paths.size + this.waiting.size;
  }

  /** Paths with an operation queued or running. */
  inFlight(): Set<string> {
    const out = new Set(this.paths.keys());
    for (const p of this.waiting.keys()) out.add(p);
    return out;
  }

  /** Ops started at once by run(): enough to keep every request slot busy while others wait on a path. */
  private get poolSize(): number {
    return Math.max(16, this.opts.concurrency * 4);
  }

  /** Runs the operations; resolves when all have an outcome (never rejects for one bad file). */
  async run(ops: readonly SyncOp[]): Promise<ExecResult> {
    const { manifest } = this.opts;
    this.fatal = undefined;
    // Every upload's intent is on disk before its request (see writeIntentWindow): a crash leaves a
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
    // A path's intent still to write right before its upload, or the promise of the journal line
    // that already holds it.
    const deferredIntents = new Map<string, PendingUpload | Promise<void>>();
    for (const op of ops) {
      if (op.kind === 'discard') {
        // Recorded before any intent of this batch is dropped: once an intent goes, this record is
        // the only trace of the stray copy (ops on other paths may drop theirs first).
        manifest.addPendingDelete(this.queued(op.fileId, op.path, op.suspect ? 'suspect' : 'stray'));
        mustFlush = true;
      }
      if (op.kind === 'suspect') {
        // Likewise: the suspect record must be on disk before the intent that explains it goes.
        manifest.addSuspect(suspectRecord(op.path, op.remote, op.why, startedAt));
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
        // Written durably before its own request, a window of the next ops' intents per journal
        // line (see the pool below), not all at once up front: a 100k-file batch would hold 100k
        // intents in the manifest's head for the whole sync. No request goes out before its intent.
        deferredIntents.set(op.path, intent);
      }
    }
    if (mustFlush) await manifest.flush();

    // A bounded pool rather than every op scheduled at once: a 100k-file first sync would hold
    // a queued promise, closure and semaphore wait per file (~20 MB live, promoted to old space).
    const outcomes: OpOutcome[] = new Array<OpOutcome>(ops.length);
    for (const op of ops) for (const p of opPaths(op)) this.waiting.set(p, (this.waiting.get(p) ?? 0) + 1);
    let next = 0;
    let intentsUpTo = 0;
    const collectNow = ops.length >= COLLECT_EVERY_OPS ? collectGarbageEvery(COLLECT_EVERY_OPS) : undefined;
    const worker = async (): Promise<void> => {
      while (next < ops.length) {
        const i = next++;
        const op = ops[i]!;
        if (isUploadOp(op) && !resolving.has(op.path) && i >= intentsUpTo) {
          intentsUpTo = Math.min(ops.length, i + INTENT_WINDOW);
          this.writeIntentWindow(ops.slice(i, intentsUpTo), resolving, deferredIntents);
        }
        const scheduled = this.schedule(op, deferredIntents);
        for (const p of opPaths(op)) {
          const n = (this.waiting.get(p) ?? 1) - 1;
          if (n > 0) this.waiting.set(p, n);
          else this.waiting.delete(p);
        }
        outcomes[i] = await scheduled;
        collectNow?.();
      }
    };
    await Promise.all(Array.from({ length: Math.min(ops.length, this.poolSize) }, worker));
    const retryLater = new Set<string>();
    for (const o of outcomes) {
      if (o.status === 'changed' || o.status === 'ambiguous' || o.status === 'failed')
        for (const p of opPaths(o.op)) retryLater.add(p);
    }
    return { outcomes, retryLater: [...retryLater] };
  }

  /**
   * Records the intents of a window of upload ops in one journal line and replaces each with the
   * promise of that line, which its upload awaits (scheduling itself stays in index order). Paths
   * whose older intent the batch still resolves keep theirs, written right before their upload.
   */
  private writeIntentWindow(
    window: readonly SyncOp[],
    resolving: ReadonlySet<string>,
    deferredIntents: Map<string, PendingUpload | Promise<void>>,
  ): void {
    const { manifest } = this.opts;
    const written: string[] = [];
    for (const op of window) {
      if (!isUploadOp(op) || resolving.has(op.path)) continue;
      const intent = deferredIntents.get(op.path);
      if (intent === undefined || intent instanceof Promise) continue;
      manifest.addPendingUpload(intent);
      written.push(op.path);
    }
    const durable = manifest.flush();
    // Each upload of the window awaits it (and fails if it failed); an op that never gets that
    // far (stop, 401) must not leave the rejection unhandled.
    durable.catch(() => undefined);
    for (const p of written) deferredIntents.set(p, durable);
  }

  /** `deferredIntents`: per path, the intent to write right before its upload, or the line holding it. */
  private schedule(
    op: SyncOp,
    deferredIntents: ReadonlyMap<string, PendingUpload | Promise<void>>,
  ): Promise<OpOutcome> {
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

  private async execute(
    op: SyncOp,
    deferredIntents: ReadonlyMap<string, PendingUpload | Promise<void>>,
  ): Promise<OpOutcome> {
    const { manifest, logger } = this.opts;
    try {
      switch (op.kind) {
        case 'upload':
          return await this.upload(op, op.path, op.local, undefined, deferredIntents.get(op.path));
        case 'reupload': {
          // A vanished or expired copy is gone: nothing to delete. An expiring one is still
          // readable, so consumers keep it for the superseded retention like a replaced version.
          const retire = op.reason === 'expiring' ? op.oldFileId : undefined;
          return await this.upload(op, op.path, op.local, retire, deferredIntents.get(op.path));
        }
        case 'replace':
          return await this.upload(op, op.path, op.local, op.oldFileId, deferredIntents.get(op.path));
        case 'delete': {
          // Into the delayed queue: the ID stays valid for its retention time, and the guard
          // judges it with every other removal before it is sent (drainPendingDeletes).
          const removed = manifest.get(op.path);
          manifest.remove(op.path);
          manifest.addPendingDelete(
            removed?.fileId === op.fileId
              ? this.queuedRemoval(op.path, removed)
              : this.queued(op.fileId, op.path, 'removed'),
          );
          return { op, status: 'done', fileId: op.fileId };
        }
        case 'discard':
          // Queued in run() already; sent by the next drain.
          manifest.removeSuspect(op.fileId);
          return { op, status: 'done', fileId: op.fileId };
        case 'suspect':
          return { op, status: 'done', fileId: op.remote.id };
        case 'settle':
          manifest.removeUnsettled(op);
          return { op, status: 'done' };
        case 'move': {
          if (op.queued) return this.takeBack(op, op.queued);
          const displaced = manifest.rename(op.from, op.to);
          const e = manifest.get(op.to);
          if (e)
            manifest.set(op.to, { ...e, size: op.local.size, mtimeMs: op.local.mtimeMs, ino: op.local.ino });
          // The target path had its own remote copy: it is superseded, so it goes after its retention.
          if (displaced && displaced.fileId !== e?.fileId)
            manifest.addPendingDelete(this.queued(displaced.fileId, op.to, 'replaced'));
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
          if (op.oldFileId) manifest.addPendingDelete(this.queued(op.oldFileId, op.path, 'replaced'));
          return { op, status: 'done', fileId: op.remote.id };
        }
        case 'drop-intent':
          manifest.removePendingUpload(op.path);
          return { op, status: 'done' };
        case 'delete-done':
          manifest.removePendingDelete(op.fileId);
          manifest.removeSuspect(op.fileId);
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
      // Recorded only when the copy expires, so the common entry stays as small as before.
      ...(remote.expiresAt ? { expiresAt: remote.expiresAt } : {}),
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
    intent: PendingUpload | Promise<void> | undefined,
  ): Promise<OpOutcome> {
    return this.uploads.run([uploadKey(remoteNameFor(relPath), local.size)], async () => {
      if (intent instanceof Promise) {
        await intent;
      } else if (intent) {
        this.opts.manifest.addPendingUpload(intent);
        await this.opts.manifest.flush();
      }
      return this.uploadNow(op, relPath, local, oldFileId);
    });
  }

  /**
   * True for IDs this process already knows: recorded for a path, waiting to be deleted, or
   * suspected, in this folder or (through `isOwned`) any other.
   */
  private owns(id: string): boolean {
    const { manifest } = this.opts;
    return (
      manifest.findByFileId(id) !== undefined ||
      manifest.pendingDelete(id) !== undefined ||
      manifest.suspect(id) !== undefined ||
      this.opts.isOwned?.(id) === true
    );
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
    let sentHashedVersion = false;
    try {
      remote = await client.upload(abs, {
        filename,
        mimeType: mimeTypeFor(relPath),
        signal,
        expected: { size: local.size, mtimeMs: local.mtimeMs, ino: local.ino },
        onVersionSent: () => (sentHashedVersion = true),
        // An earlier run's file of the same name and size is ours already, not this attempt's.
        isOwned: (id) => this.owns(id),
        foreign: this.opts.foreign,
        onSuspects: async (files, why) => {
          const at = this.now().toISOString();
          for (const f of files) {
            if (this.opts.exclusive) manifest.addPendingDelete(this.queued(f.id, relPath, 'suspect'));
            else manifest.addSuspect(suspectRecord(relPath, f, why, at));
          }
          await manifest.flush();
        },
        onUnsettled: async (a) => {
          manifest.addUnsettled({
            path: relPath,
            remoteName: a.filename,
            size: a.sizeBytes,
            startedAt: a.startedAt.toISOString(),
            settleAfter: a.settleAfter.toISOString(),
          });
          await manifest.flush();
        },
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
    // not match the hash. Discard that copy rather than record a stale hash. A client that checked
    // the version it sent spares this stat (one per file of an initial sync).
    const after = sentHashedVersion ? local : await fs.lstat(abs).catch(() => undefined);
    if (!after || !sameStat({ ...local, size: after.size, mtimeMs: after.mtimeMs, ino: after.ino }, local)) {
      manifest.addPendingDelete(this.queued(remote.id, relPath, 'stray'));
      manifest.removePendingUpload(relPath);
      logger.info({ path: relPath }, 'file changed during upload; discarded that copy and will upload again');
      return { op, status: 'changed' };
    }

    // The new ID first; the old one only queued (never sent) here. A drain flushes the manifest
    // before it sends any delete, so a reader never finds an ID that is already deleted.
    manifest.set(relPath, this.entryFor(relPath, local, remote));
    manifest.removePendingUpload(relPath);
    if (oldFileId && oldFileId !== remote.id)
      manifest.addPendingDelete(this.queued(oldFileId, relPath, 'replaced'));
    return { op, status: 'done', fileId: remote.id };
  }

  /**
   * Sends the queued deletes whose retention has passed, after the manifest that no longer names
   * them is on disk. Removals are judged first by the guard on everything queued or held plus
   * everything sent in the sliding window; while it holds, none is sent. Every delete sent is
   * logged at info level with its path and file ID; a 404 counts as done.
   */
  /**
   * The deletes still ours to send: a stray or suspect copy that another folder has recorded
   * since it was queued is forgotten, not deleted. If the claims cannot be read, those wait.
   */
  private async notForeign(deletes: PendingDelete[]): Promise<PendingDelete[]> {
    const foreign = this.opts.foreign;
    const asked = deletes.filter(fromListing);
    if (!foreign || asked.length === 0) return deletes;
    let claimed: ReadonlySet<string>;
    try {
      claimed = await foreign.claimed(asked.map((d) => d.fileId));
    } catch (err) {
      this.opts.logger.warn(
        { err: errorInfo(err), waiting: asked.length },
        "cannot ask the state database whether queued stray copies are another folder's; not deleting them yet",
      );
      return deletes.filter((d) => !fromListing(d));
    }
    for (const d of asked) {
      if (!claimed.has(d.fileId)) continue;
      this.opts.manifest.removePendingDelete(d.fileId);
      this.opts.manifest.removeSuspect(d.fileId);
      this.opts.logger.warn(
        { fileId: d.fileId, path: d.path, reason: d.reason },
        'a queued stray copy is recorded by another folder: not ours, not deleted',
      );
    }
    return deletes.filter((d) => !claimed.has(d.fileId));
  }

  async drainPendingDeletes(opts: { allowMassDelete?: boolean | undefined } = {}): Promise<DrainResult> {
    const { client, manifest, logger, signal } = this.opts;
    if (opts.allowMassDelete) {
      // A release covers every removal queued now, also those still waiting for their retention:
      // marked durably, so the guard does not hold them again once they fall due.
      for (const d of manifest.pendingDeletes())
        if (d.reason === 'removed' && d.released !== true)
          manifest.addPendingDelete({ ...d, released: true });
    }
    await manifest.flush();
    const now = this.now().getTime();
    const all = manifest.pendingDeletes();
    const due = all.filter((d) => d.notBefore === undefined || Date.parse(d.notBefore) <= now);
    let nextDueAt: number | undefined;
    for (const d of all) {
      const t = d.notBefore === undefined ? now : Date.parse(d.notBefore);
      if (t > now && (nextDueAt === undefined || t < nextDueAt)) nextDueAt = t;
    }
    const removals = all.filter(isGuarded).length + this.guard.heldPaths.size;
    let heldReason: string | undefined;
    if (!opts.allowMassDelete && this.opts.limits && removals > 0) {
      const reason =
        this.guard.reason ??
        overLimit(
          removals + this.guard.recentlySent(),
          manifest.size - this.guard.heldPaths.size,
          this.opts.limits,
        );
      if (reason !== undefined)
        heldReason = reason.includes(RELEASE_HINT) ? reason : `${reason}; ${RELEASE_HINT}`;
    }
    const sendable = await this.notForeign(heldReason === undefined ? due : due.filter((d) => !isGuarded(d)));
    let done = 0;
    let failed = 0;
    await Promise.all(
      sendable.map((d) =>
        this.sem.with(async () => {
          try {
            const r = await client.delete(d.fileId, { signal });
            manifest.removePendingDelete(d.fileId);
            if (d.reason === 'removed') this.guard.recordSent();
            logger.info(
              { path: d.path, fileId: d.fileId, reason: d.reason, alreadyGone: r.alreadyGone },
              'deleted remote file',
            );
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
    const held = heldReason === undefined ? 0 : all.filter(isGuarded).length;
    return {
      done,
      failed,
      held: held + (heldReason === undefined ? 0 : this.guard.heldPaths.size),
      heldReason,
      waiting: all.length - due.length,
      nextDueAt,
    };
  }
}

/** Queued deletes of files that came from a listing (not from an entry of ours): asked about again before sending. */
function fromListing(d: PendingDelete): boolean {
  return d.reason === 'stray' || d.reason === 'suspect';
}

/** Removals the guard judges: those not released by an explicit command. */
export function isGuarded(d: PendingDelete): boolean {
  return d.reason === 'removed' && d.released !== true;
}

/** A suspect record for the manifest. */
function suspectRecord(relPath: string, f: RemoteFile, why: string, at: string): Suspect {
  return {
    fileId: f.id,
    filename: f.filename,
    sizeBytes: f.sizeBytes,
    createdAt: f.createdAt,
    path: relPath,
    why,
    recordedAt: at,
  };
}
