// One full garbage collection after a large piece of work became garbage (a full pass over a big folder).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/** V8's full collector, exposed at run time (node has no API for it without --expose-gc). */
function collector(): (() => void) | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/**
 * Collects soon, once the caller's frames are gone. A full pass over 100k files leaves its scan,
 * remote listing and plan (~0.5 KB a file) in the old generation, where V8 keeps them until its
 * next major collection: for an idle daemon that is never, and it idles ~45 MB larger (measured
 * at 100k files). One collection costs tens of ms after a pass that took seconds. The timer is
 * unref'd: a one-shot `sync` exits without waiting for it.
 */
export function collectGarbageSoon(): void {
  setTimeout(() => collector()?.(), 0).unref();
}
