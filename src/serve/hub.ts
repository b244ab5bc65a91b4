/**
 * The consumer-facing side of the daemon: turns executor outcomes into change events (event log
 * + live fan-out), remembers per-path failures, and answers /v1/lookup and /v1/events. The daemon
 * only wires it: outcomes and folder status in, HTTP requests in.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { OpOutcome } from '../sync/execute.js';
import type { FolderStatus } from '../status.js';
import { opPath } from '../sync/ops.js';
import { errorMessage } from '../errors.js';
import type { ChangeInput } from './change-events.js';
import { recordHeld, recordOutcome } from './recorder.js';
import { EventLog } from './event-log.js';
import { FailureBook, type LookupFolder } from './lookup.js';
import { handleLookup } from './lookup-route.js';
import { EventStreams } from './events.js';
import { sendError } from './http-util.js';

export interface ServeHubOptions {
  stateDir: string;
  /** The running folders, read on every request (folders come and go on reload). */
  folders: () => Iterable<{ lookupView(): LookupFolder | undefined }>;
  logger: Logger;
  /** Events kept for resuming clients; default KEEP_EVENTS. */
  keepEvents?: number | undefined;
  /** Concurrent /v1/events clients; default 64. */
  maxStreams?: number | undefined;
  /** Every recorded change, after the event log has it (the daemon hands it to the folder's store too). */
  onChange?: ((change: ChangeInput) => void) | undefined;
}

/** The routes the HTTP server hands to the hub. */
export interface ApiRoutes {
  /** Handles the request if it is one of ours; false lets the server answer 404. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
}

export class ServeHub implements ApiRoutes {
  readonly failures = new FailureBook();
  private readonly streams: EventStreams;
  private readonly outcomeListeners = new Set<(folder: string, path: string | undefined) => void>();
  private readonly held = new Map<string, number>();

  private constructor(
    readonly log: EventLog,
    private readonly opts: ServeHubOptions,
  ) {
    this.streams = new EventStreams(log, opts.maxStreams ?? 64, () => this.folderNames());
  }

  /** Opens the event log in the state dir; the caller holds the state-dir lock. */
  static async open(opts: ServeHubOptions): Promise<ServeHub> {
    const log = await EventLog.open(opts.stateDir, {
      keep: opts.keepEvents,
      onWriteError: (err) => opts.logger.warn({ err: errorMessage(err) }, 'event log write failed'),
    });
    return new ServeHub(log, opts);
  }

  /** A finished executor operation: failures are remembered, visible changes recorded. */
  onOutcome(folder: string, outcome: OpOutcome): void {
    const p = opPath(outcome.op);
    if (p !== undefined) {
      if (outcome.status === 'failed' || outcome.status === 'ambiguous' || outcome.status === 'refused')
        this.failures.set(folder, p, outcome.error ?? outcome.status);
      else this.failures.clear(folder, p);
    }
    const view = this.folder(folder);
    recordOutcome(this, folder, outcome, (rel) => view?.manifest.get(rel)?.fileId);
    for (const l of this.outcomeListeners) l(folder, p);
  }

  /** A folder's status changed: a new or different count of held deletes is a `held` event. */
  onStatus({ name: folder, heldDeletes: count, heldReason: reason }: FolderStatus): void {
    if ((this.held.get(folder) ?? 0) === count) return;
    this.held.set(folder, count);
    if (count === 0) return;
    recordHeld(this, folder, count, reason);
  }

  /** Records any change (the ID retention will record `expired` through here). */
  record(change: ChangeInput): void {
    this.log.record(change);
    this.opts.onChange?.(change);
  }

  /** Calls `listener` after every outcome (waiters re-check their path); returns the unsubscribe. */
  onAnyOutcome(listener: (folder: string, path: string | undefined) => void): () => void {
    this.outcomeListeners.add(listener);
    return () => this.outcomeListeners.delete(listener);
  }

  folder(name: string): LookupFolder | undefined {
    return this.folderList().find((f) => f.name === name);
  }

  folderList(): LookupFolder[] {
    const out: LookupFolder[] = [];
    for (const f of this.opts.folders()) {
      const v = f.lookupView();
      if (v) out.push(v);
    }
    return out;
  }

  private folderNames(): string[] {
    return this.folderList().map((f) => f.name);
  }

  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (url.pathname === '/v1/lookup') {
      handleLookup(this, req, res, url);
      return true;
    }
    if (url.pathname === '/v1/events') {
      this.streams.handle(req, res, url);
      return true;
    }
    if (url.pathname.startsWith('/v1/')) {
      sendError(res, 404, `no route ${url.pathname}`, 'use /v1/lookup or /v1/events');
      return true;
    }
    return false;
  }

  /** Ends every event stream and flushes the log. */
  async close(): Promise<void> {
    this.streams.closeAll();
    await this.log.close();
  }
}
