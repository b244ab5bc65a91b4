/** Option and data types shared by the emulator's modules. */
import type { Logger } from 'pino';

/** Fault injection settings; every rate is a probability per /v1 request (0..1). */
export interface FaultOptions {
  /** 429 rate_limit_error with retry-after (seconds, rounded up) and retry-after-ms headers. */
  rate429?: number;
  /** 500 api_error. */
  rate500?: number;
  /** 529 overloaded_error. */
  rate529?: number;
  /** Destroy the socket before any response; the request is NOT processed. */
  rateReset?: number;
  /** POST /v1/files only: create the file, then destroy the socket (the client never hears). */
  rateCreatedThenReset?: number;
  /**
   * POST /v1/files only: read the upload, answer nothing, and create the file only `lateCreateMs`
   * later (after a client with a shorter upload timeout gave up and looked for it), then drop the
   * connection: a server finishing a request its client abandoned.
   */
  rateLateCreate?: number;
  /** How long a late-create upload is held before its file appears (default 2000 ms). */
  lateCreateMs?: number;
  /** Added to every /v1 response. */
  latencyMs?: number;
  /** What an injected 429 asks the client to wait (default 100 ms). */
  retryAfterMs?: number;
  /** Seed of the deterministic PRNG that picks faults. */
  seed?: number;
  /** Every /v1 request gets 401 authentication_error, as for a revoked key (switch back with false). */
  refuseKey?: boolean;
  /** GA listing: every page says `next_page: "page_repeat"`, the cursor just followed (a server bug). */
  repeatCursor?: boolean;
}

/** How to start an emulator. */
export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 = a random free port. */
  port?: number;
  /** The accepted key; when omitted any non-empty x-api-key is accepted. */
  apiKey?: string;
  /** When set, content and metadata are kept on disk here and survive a restart. */
  dataDir?: string;
  faults?: FaultOptions;
  /** 0/undefined = unlimited; over it the emulator answers 429 like the real API. */
  requestsPerMinute?: number;
  /** Default 500 MiB; a bigger file gets 413. */
  maxUploadBytes?: number;
  /** Refuse requests that send the files beta header (the GA-only API after the beta's retirement). */
  gaOnly?: boolean;
  /**
   * The workspaces the key can act on. One entry (or none: `wrkspc_default`): the key is bound to
   * it and a different `anthropic-workspace-id` is refused (403). Several: every request must
   * name one of them, and each sees only its own files.
   */
  workspaces?: string[];
  /** Total bytes of live files (all workspaces: the quota is the organisation's) over which uploads get 400 storage_quota_exceeded. */
  storageQuotaBytes?: number;
  logger?: Logger;
}

/** One live file as the emulator holds it (sha256 of the received content included). */
export interface EmulatorFile {
  id: string;
  filename: string;
  mimeType: string;
  sizeBytes: number;
  createdAt: string;
  sha256: string;
  downloadable: boolean;
  workspaceId: string;
  /** RFC 3339, or null when the file never expires. */
  expiresAt: string | null;
}

/** Limits and switches shown by GET /_emulator/state. */
export interface EmulatorSettings {
  requestsPerMinute: number;
  maxUploadBytes: number;
  dataDir: string | null;
  gaOnly: boolean;
  workspaces: string[];
  storageQuotaBytes: number | null;
  storedBytes: number;
  /** The emulator's clock (advanced by advanceTime). */
  now: string;
}

/** Counters a test can assert on. */
export interface EmulatorStats {
  /** /v1 (and other non-inspection) requests received. */
  requests: number;
  byRoute: Record<string, number>;
  /** Keys: rate429, rate500, rate529, rateReset, rateCreatedThenReset, rpmLimit. */
  faultsInjected: Record<string, number>;
  /** Files created by POST /v1/files (addFile does not count). */
  uploadsCreated: number;
  /** Successful DELETE /v1/files/{id}. */
  deletes: number;
  /** /v1 requests being handled right now (e.g. held by latencyMs): a test can wait for them to settle. */
  inFlight: number;
}

/** What an added ("made by someone else") file may specify. */
export type AddFileInput = Partial<EmulatorFile> & { filename: string; sizeBytes: number };

/** A started emulator. */
export interface RunningEmulator {
  /** e.g. http://127.0.0.1:41234 (no trailing slash); use as ANTHROPIC_BASE_URL. */
  url: string;
  port: number;
  /** Live files, newest first. */
  files(): EmulatorFile[];
  stats(): EmulatorStats;
  /** Replaces the fault configuration at run time. */
  setFaults(f: FaultOptions): void;
  /** Seeds a file as if another program (or a tool) had made it. */
  addFile(meta: AddFileInput): EmulatorFile;
  /** Moves the emulator's clock forward, e.g. past a file's expires_at. */
  advanceTime(ms: number): void;
  /** Sets (bytes) or lifts (null) the storage quota at run time. */
  setStorageQuota(bytes: number | null): void;
  /** Closes the server and every open socket. */
  close(): Promise<void>;
}
