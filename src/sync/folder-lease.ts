// What a folder knows of its PostgreSQL lease while it does not hold it: who does, the token to take back, when to try again.
import type { HeldLease } from '../state/postgres/store.js';
import type { LeaseHeldError } from '../state/postgres/errors.js';
import type { FolderLease } from '../status.js';

/** How often a standby tries to take the lease: every 1-2 s (jittered, so standbys do not march in step). */
export const STANDBY_RETRY_MS = 1_000;
/** A paused folder tries to reach the database after 1 s, doubling up to this. */
export const PAUSED_RETRY_MAX_MS = 5_000;

export interface LeaseRetryTimings {
  standbyRetryMs: number;
  pausedRetryMaxMs: number;
}

/** The lease as last seen, and by this host's clock when. */
interface Seen {
  ownerHost: string;
  ownerPid: number;
  ageMs: number;
  at: number;
  mine: boolean;
}

/**
 * The lease bookkeeping of one folder between runs. While the folder runs, its store holds the
 * lease and is asked directly; in standby the last attempt's answer (who holds it, how old its
 * heartbeat was) is shown, aged by the time since; while paused, this daemon's own last renewal.
 */
export class FolderLeaseWatch {
  private seen: Seen | undefined;
  private unreachableTries = 0;
  /** The token to take back when the database answers again (nobody else may have taken it meanwhile). */
  reclaimToken: string | undefined;

  constructor(private readonly timings: LeaseRetryTimings) {}

  /** The folder runs under `held`. */
  acquired(): void {
    this.seen = undefined;
    this.reclaimToken = undefined;
    this.unreachableTries = 0;
  }

  /**
   * The run under `held` ended: out of touch with the database (`reclaim`: the lease is still
   * recorded as ours and may be taken back), or lost to another daemon (named by the next attempt).
   */
  released(held: HeldLease | undefined, reclaim: boolean): void {
    this.reclaimToken = reclaim ? held?.token : undefined;
    this.seen =
      reclaim && held !== undefined
        ? { ownerHost: held.ownerHost, ownerPid: held.ownerPid, ageMs: 0, at: held.renewedAt, mine: true }
        : undefined;
  }

  /** An attempt found the lease held by another live daemon; returns the delay before the next one. */
  heldBy(err: LeaseHeldError): number {
    const c = err.context;
    if (typeof c.ownerHost === 'string' && typeof c.ownerPid === 'number')
      this.seen = {
        ownerHost: c.ownerHost,
        ownerPid: c.ownerPid,
        ageMs: typeof c.ageMs === 'number' ? c.ageMs : 0,
        at: Date.now(),
        mine: false,
      };
    // Another daemon owns it now: our old token is no use any more.
    this.reclaimToken = undefined;
    this.unreachableTries = 0;
    return this.standbyDelay();
  }

  /** The delay before a standby's next attempt: 1-2 s. */
  standbyDelay(): number {
    return this.timings.standbyRetryMs * (1 + Math.random());
  }

  /** An attempt could not reach the database; returns the delay before the next one. */
  unreachable(): number {
    this.unreachableTries++;
    return Math.min(1_000 * 2 ** (this.unreachableTries - 1), this.timings.pausedRetryMaxMs);
  }

  /** The lease for status: the store's own while it runs (`held`), else as last seen. */
  view(held: HeldLease | undefined, now = Date.now()): FolderLease | undefined {
    if (held !== undefined)
      return {
        ownerHost: held.ownerHost,
        ownerPid: held.ownerPid,
        ageSeconds: Math.round((now - held.renewedAt) / 1000),
        ownedByThisDaemon: true,
      };
    const s = this.seen;
    if (s === undefined) return undefined;
    return {
      ownerHost: s.ownerHost,
      ownerPid: s.ownerPid,
      ageSeconds: Math.round((s.ageMs + now - s.at) / 1000),
      ownedByThisDaemon: s.mine,
    };
  }
}
