/** Fault injection for the emulator: 429/5xx/reset/created-then-reset/late-create at seeded rates, latency. */
import { z } from 'zod';
import type { FaultOptions } from './types.js';

/** The kinds of fault the emulator can inject. */
export type FaultKind =
  'rate429' | 'rate500' | 'rate529' | 'rateReset' | 'rateCreatedThenReset' | 'rateLateCreate';

/** Every counter key a fault (or the rpm limit) can bump in stats.faultsInjected. */
export const FAULT_COUNTER_KEYS = [
  'rate429',
  'rate500',
  'rate529',
  'rateReset',
  'rateCreatedThenReset',
  'rateLateCreate',
  /** Late-create uploads whose file has appeared (rateLateCreate counts them when they are held). */
  'lateCreated',
  'rpmLimit',
] as const;

/** Default of lateCreateMs: how long a "late create" upload is held before its file appears. */
export const DEFAULT_LATE_CREATE_MS = 2_000;

const DEFAULT_RETRY_AFTER_MS = 100;

const rate = z.number().min(0).max(1);

/** Schema of a fault configuration as JSON (POST /_emulator/faults, FILES_SYNC_EMULATOR_FAULTS). */
export const faultOptionsSchema = z.strictObject({
  rate429: rate.optional(),
  rate500: rate.optional(),
  rate529: rate.optional(),
  rateReset: rate.optional(),
  rateCreatedThenReset: rate.optional(),
  rateLateCreate: rate.optional(),
  lateCreateMs: z.number().int().min(0).max(600_000).optional(),
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  retryAfterMs: z.number().int().min(0).max(3_600_000).optional(),
  seed: z.number().int().optional(),
  refuseKey: z.boolean().optional(),
  repeatCursor: z.boolean().optional(),
});

/** Validates unknown JSON as FaultOptions; throws a ZodError when invalid. */
export function parseFaultOptions(input: unknown): FaultOptions {
  const parsed = faultOptionsSchema.parse(input);
  // exactOptionalPropertyTypes: drop keys zod left as undefined.
  const out: FaultOptions = {};
  for (const [k, v] of Object.entries(parsed))
    if (v !== undefined) (out as Record<string, number | boolean>)[k] = v;
  return out;
}

/** mulberry32: a tiny seeded PRNG, good enough to make fault sequences repeatable. */
export function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Picks at most one fault per request. Each request draws once (uploads twice), so with a fixed
 * seed the same request sequence gets the same faults.
 */
export class FaultInjector {
  private options: FaultOptions = {};
  private random: () => number = Math.random;

  constructor(options: FaultOptions = {}) {
    this.configure(options);
  }

  /** Replaces the configuration; a seed restarts the PRNG. */
  configure(options: FaultOptions): void {
    this.options = { ...options };
    this.random = createPrng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** The current configuration (a copy). */
  get config(): FaultOptions {
    return { ...this.options };
  }

  /** Latency to add to every /v1 response. */
  get latencyMs(): number {
    return this.options.latencyMs ?? 0;
  }

  /** True while every /v1 request is refused as if the key were revoked. */
  get refuseKey(): boolean {
    return this.options.refuseKey === true;
  }

  /** True while the GA listing hands out the cursor just followed (a pagination loop). */
  get repeatCursor(): boolean {
    return this.options.repeatCursor === true;
  }

  /** What an injected 429 asks the client to wait. */
  get retryAfterMs(): number {
    return this.options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  }

  /** How long a "late create" upload is held, unanswered, before its file appears. */
  get lateCreateMs(): number {
    return this.options.lateCreateMs ?? DEFAULT_LATE_CREATE_MS;
  }

  /** The fault for the next request, or null; `isUpload` enables rateCreatedThenReset and rateLateCreate. */
  pick(isUpload: boolean): FaultKind | null {
    const o = this.options;
    const r = this.random();
    let edge = 0;
    for (const kind of ['rateReset', 'rate429', 'rate500', 'rate529'] as const) {
      edge += o[kind] ?? 0;
      if (r < edge) return kind;
    }
    if (isUpload && (o.rateCreatedThenReset ?? 0) > 0 && this.random() < (o.rateCreatedThenReset ?? 0)) {
      return 'rateCreatedThenReset';
    }
    if (isUpload && (o.rateLateCreate ?? 0) > 0 && this.random() < (o.rateLateCreate ?? 0)) {
      return 'rateLateCreate';
    }
    return null;
  }
}
