/**
 * What the server's clock reads relative to ours, estimated only from the server's own answers:
 * the `date` header of every response (1 s resolution) and the `created_at` of our own uploads.
 * Ownership of an ambiguous upload is judged by the server's clock, so the estimate is an interval
 * that certainly holds the true offset, never a guess.
 */
import type { Dispatcher } from 'undici';

/** Server clock minus local clock, in ms: the true value lies in [lo, hi]. */
export interface ClockOffset {
  lo: number;
  hi: number;
}

export class ServerClock {
  private lo = -Infinity;
  private hi = Infinity;

  /**
   * Records that the server read `serverMs` (plus up to `resolutionMs`) at some local moment
   * between `sentAt` and `receivedAt`.
   */
  observe(serverMs: number, sentAt: number, receivedAt: number, resolutionMs = 0): void {
    if (!Number.isFinite(serverMs) || receivedAt < sentAt) return;
    const lo = serverMs - receivedAt;
    const hi = serverMs + resolutionMs - sentAt;
    const nlo = Math.max(this.lo, lo);
    const nhi = Math.min(this.hi, hi);
    if (nlo <= nhi) {
      this.lo = nlo;
      this.hi = nhi;
    } else {
      // The samples disagree: a clock was stepped. Trust only the newest one.
      this.lo = lo;
      this.hi = hi;
    }
  }

  /** The interval known so far; undefined before any answer. */
  get offset(): ClockOffset | undefined {
    return Number.isFinite(this.lo) && Number.isFinite(this.hi) ? { lo: this.lo, hi: this.hi } : undefined;
  }
}

/**
 * A dispatcher that feeds every response's `date` header to `clock`, so the estimate is fresh
 * without the transport having to know about it.
 */
export function clockObservingDispatcher(base: Dispatcher, clock: ServerClock): Dispatcher {
  return base.compose((dispatch) => (opts, handler) => {
    const sentAt = Date.now();
    const note = (date: string | undefined): void => {
      if (date !== undefined) clock.observe(Date.parse(date), sentAt, Date.now(), 1000);
    };
    const h = handler as Dispatcher.DispatchHandler & Record<string, unknown>;
    const wrapped = new Proxy(h, {
      get(target, prop) {
        if (prop === 'onHeaders' && typeof target.onHeaders === 'function') {
          const inner = target.onHeaders.bind(target) as (...a: unknown[]) => boolean;
          return (status: number, raw: Buffer[], ...rest: unknown[]) => {
            note(rawHeader(raw, 'date'));
            return inner(status, raw, ...rest);
          };
        }
        if (prop === 'onResponseStart' && typeof target.onResponseStart === 'function') {
          const inner = target.onResponseStart.bind(target) as (...a: unknown[]) => void;
          return (
            controller: unknown,
            status: number,
            headers: Record<string, unknown>,
            ...rest: unknown[]
          ) => {
            const d = headers['date'];
            note(typeof d === 'string' ? d : undefined);
            inner(controller, status, headers, ...rest);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return dispatch(opts, wrapped);
  });
}

function rawHeader(raw: Buffer[] | string[] | null | undefined, name: string): string | undefined {
  if (!Array.isArray(raw)) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === name) return String(raw[i + 1]);
  }
  return undefined;
}
