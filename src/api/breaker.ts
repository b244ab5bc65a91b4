/** The client-wide circuit breaker and storage-quota pause: when the API fails everything, stop asking. */
import { FilesSyncError } from '../errors.js';
import { ApiError, ConnectionError, StorageQuotaError, isAbortError, summarizeError } from './errors.js';

/** Families of failure that, repeated, mean the API (or our key) is down for every request. */
export type FailureKind = 'connection' | 'server' | 'auth';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Why the breaker is open: the kind, a key-free summary and a sentence for people. */
export interface BreakerCause {
  kind: FailureKind;
  /** e.g. "529 overloaded_error", "ECONNREFUSED", "401 authentication_error". */
  summary: string;
  /** What status lines and logs say, e.g. "API key refused (401): check ANTHROPIC_API_KEY". */
  message: string;
  /** Consecutive failures that opened it. */
  failures: number;
  since: string;
}

export interface BreakerOptions {
  /** Consecutive failures of one kind that open the breaker (default 10: more than one call's retries). */
  threshold?: number | undefined;
  /** First wait before a probe (default 1 s); doubles per failed probe up to `maxCooldownMs`. */
  baseCooldownMs?: number | undefined;
  /** Longest wait between probes (default 30 s). */
  maxCooldownMs?: number | undefined;
  /** Where the key came from, for the 401 message (default ANTHROPIC_API_KEY). */
  keySource?: string | undefined;
  /** How long uploads stay paused after storage_quota_exceeded before one is tried again (default 5 min). */
  quotaRetryMs?: number | undefined;
  now?: (() => number) | undefined;
}

export const DEFAULT_BREAKER_THRESHOLD = 10;
const DEFAULT_BASE_COOLDOWN_MS = 1_000;
const DEFAULT_MAX_COOLDOWN_MS = 30_000;
const DEFAULT_QUOTA_RETRY_MS = 5 * 60_000;

/** The start of every BreakerOpenError message: the CLI groups failures by it. */
export const BREAKER_OPEN_PREFIX = 'not sent: the Files API is failing every request';
/** The start of the error an upload gets while uploads are paused for the storage quota. */
export const QUOTA_PAUSED_PREFIX = 'not sent: uploads paused, the storage quota is exceeded';

/** A request refused locally because the breaker is open; nothing was sent. */
export class BreakerOpenError extends FilesSyncError {
  readonly breakerCause: BreakerCause;
  constructor(cause: BreakerCause) {
    super(`${BREAKER_OPEN_PREFIX}: ${cause.message}`, { kind: cause.kind, summary: cause.summary });
    this.breakerCause = cause;
  }
}

/** Which breaker family an error belongs to; undefined = the API answered (or the caller gave up). */
export function failureKind(err: unknown): FailureKind | undefined {
  if (isAbortError(err) || err instanceof BreakerOpenError) return undefined;
  if (err instanceof ConnectionError) return 'connection';
  if (err instanceof ApiError) {
    if (err.status === 401 || err.status === 403) return 'auth';
    if (err.status >= 500) return 'server';
  }
  return undefined;
}

/** A key-free sentence naming the cause, for status, healthz and the one `sync` message. */
export function describeCause(kind: FailureKind, err: unknown, keySource: string): string {
  const summary = summarizeError(err);
  if (kind === 'auth') {
    const status = err instanceof ApiError ? err.status : 401;
    return status === 401
      ? `API key refused (401): check ${keySource}`
      : `API key not allowed (403 permission_error): check ${keySource} and api.workspaceId`;
  }
  if (kind === 'connection') return `API unreachable (${summary})`;
  return `API failing (${summary})`;
}

/** Listener of health changes (breaker opened/closed, uploads paused/resumed). */
export type HealthListener = (health: ApiHealthSnapshot) => void;

export interface ApiHealthSnapshot {
  breaker: BreakerState;
  cause?: BreakerCause | undefined;
  /** When the next probe may go out (breaker open). */
  nextProbeAt?: string | undefined;
  /** Set while uploads are paused for the storage quota. */
  quota?: { since: string; retryAt: string; message: string } | undefined;
}

/**
 * One per client (shared by its workspace views): a circuit breaker over every request and the
 * storage-quota pause over uploads. After `threshold` consecutive failures of one kind (a 401 is
 * enough alone: a refused key never heals by retrying), new requests fail fast with
 * BreakerOpenError; after a cooldown one request goes through as a probe (half-open): success
 * closes the breaker, failure reopens it with twice the cooldown.
 */
export class ApiHealth {
  private state: BreakerState = 'closed';
  private streak: { kind: FailureKind; count: number } | undefined;
  private cause: BreakerCause | undefined;
  private cooldownMs: number;
  private openUntil = 0;
  private probing = false;
  private quota: { since: number; until: number; message: string } | undefined;
  private readonly listeners = new Set<HealthListener>();
  private readonly threshold: number;
  private readonly baseCooldownMs: number;
  private readonly maxCooldownMs: number;
  private readonly quotaRetryMs: number;
  private readonly keySource: string;
  private readonly now: () => number;

  constructor(opts: BreakerOptions = {}) {
    this.threshold = Math.max(1, opts.threshold ?? DEFAULT_BREAKER_THRESHOLD);
    this.baseCooldownMs = opts.baseCooldownMs ?? DEFAULT_BASE_COOLDOWN_MS;
    this.maxCooldownMs = opts.maxCooldownMs ?? DEFAULT_MAX_COOLDOWN_MS;
    this.quotaRetryMs = opts.quotaRetryMs ?? DEFAULT_QUOTA_RETRY_MS;
    this.keySource = opts.keySource ?? 'ANTHROPIC_API_KEY';
    this.now = opts.now ?? Date.now;
    this.cooldownMs = this.baseCooldownMs;
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True while the breaker refuses requests (open or probing). */
  get degraded(): boolean {
    return this.state !== 'closed';
  }

  /** True while uploads are paused for the storage quota. */
  get uploadsPaused(): boolean {
    return this.quota !== undefined && this.now() < this.quota.until;
  }

  /** Milliseconds until a probe may go out (0 when it may go now or the breaker is closed). */
  msUntilProbe(): number {
    return this.state === 'open' ? Math.max(0, this.openUntil - this.now()) : 0;
  }

  /** Milliseconds until a paused upload may be tried again (0 when not paused). */
  msUntilUploadRetry(): number {
    return this.quota ? Math.max(0, this.quota.until - this.now()) : 0;
  }

  snapshot(): ApiHealthSnapshot {
    const s: ApiHealthSnapshot = { breaker: this.state };
    if (this.cause) s.cause = { ...this.cause };
    if (this.state === 'open') s.nextProbeAt = new Date(this.openUntil).toISOString();
    if (this.quota)
      s.quota = {
        since: new Date(this.quota.since).toISOString(),
        retryAt: new Date(this.quota.until).toISOString(),
        message: this.quota.message,
      };
    return s;
  }

  /**
   * Called before each request: throws BreakerOpenError while open (or while another request is
   * the probe); returns a settle function the caller must call with the outcome (undefined = ok).
   */
  admit(isUpload: boolean): (error?: unknown) => void {
    if (this.state === 'open' && this.now() >= this.openUntil) {
      this.state = 'half-open';
      this.probing = false;
    }
    if (this.state === 'open' || (this.state === 'half-open' && this.probing)) {
      throw new BreakerOpenError(this.cause!);
    }
    if (isUpload && this.quota && this.now() < this.quota.until) {
      throw new StorageQuotaError(`${QUOTA_PAUSED_PREFIX}: ${this.quota.message}`, {
        status: 400,
        method: 'POST',
        route: '/v1/files',
        errorType: 'invalid_request_error',
        errorCode: 'storage_quota_exceeded',
      });
    }
    const probe = this.state === 'half-open';
    if (probe) this.probing = true;
    let settled = false;
    return (error?: unknown) => {
      if (settled) return;
      settled = true;
      this.settle(error, probe, isUpload);
    };
  }

  /** Lifts the storage-quota pause now (the daemon's slow timer, or a test). */
  retryUploads(): void {
    if (!this.quota) return;
    this.quota = undefined;
    this.emit();
  }

  private settle(error: unknown, probe: boolean, isUpload: boolean): void {
    if (probe) this.probing = false;
    if (isUpload && error instanceof StorageQuotaError && !error.message.startsWith(QUOTA_PAUSED_PREFIX)) {
      const first = this.quota === undefined;
      // Emitted when a pause starts or restarts after it ran out, so a daemon re-arms its timer.
      const restarted = !this.uploadsPaused;
      const now = this.now();
      this.quota = {
        since: first ? now : this.quota!.since,
        until: now + this.quotaRetryMs,
        message:
          'storage quota exceeded (400 storage_quota_exceeded): delete files from the organisation\u2019s Files API storage or raise its quota; uploads retry by themselves',
      };
      if (restarted) this.emit();
    } else if (isUpload && error === undefined && this.quota) {
      this.quota = undefined;
      this.emit();
    }
    const kind = failureKind(error);
    if (kind === undefined) {
      // An answer that is not a breaker failure (2xx, 400, 404, 429...): the API is there.
      if (isAbortError(error) || error instanceof BreakerOpenError) {
        if (probe && this.state === 'half-open') this.reopen();
        return;
      }
      this.streak = undefined;
      if (this.state !== 'closed') {
        this.state = 'closed';
        this.cooldownMs = this.baseCooldownMs;
        this.cause = undefined;
        this.emit();
      }
      return;
    }
    this.streak = this.streak?.kind === kind ? { kind, count: this.streak.count + 1 } : { kind, count: 1 };
    if (this.state === 'half-open') {
      this.cause = this.causeFor(kind, error, this.cause?.failures ?? this.streak.count);
      this.reopen();
      return;
    }
    const refusedKey = kind === 'auth' && error instanceof ApiError && error.status === 401;
    if (this.state === 'closed' && (this.streak.count >= this.threshold || refusedKey)) {
      this.cause = this.causeFor(kind, error, this.streak.count);
      this.state = 'open';
      this.cooldownMs = this.baseCooldownMs;
      this.openUntil = this.now() + this.cooldownMs;
      this.emit();
    }
  }

  private reopen(): void {
    this.cooldownMs = Math.min(this.cooldownMs * 2, this.maxCooldownMs);
    const changed = this.state !== 'open';
    this.state = 'open';
    this.openUntil = this.now() + this.cooldownMs;
    if (changed) this.emit();
  }

  private causeFor(kind: FailureKind, error: unknown, failures: number): BreakerCause {
    const message = describeCause(kind, error, this.keySource);
    const since = this.cause?.message === message ? this.cause.since : new Date(this.now()).toISOString();
    return { kind, summary: summarizeError(error), message, failures, since };
  }

  private emit(): void {
    const s = this.snapshot();
    for (const l of this.listeners) l(s);
  }
}
