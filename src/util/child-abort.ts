// Reacting to an abort without leaking listeners: a callback run once when a signal aborts, and an AbortController tied to a parent signal.

/**
 * Runs `fn` with the signal's reason once it aborts (at once when it has already); the returned
 * function removes the listener. A long-lived signal (a daemon run's) keeps no entry per call.
 */
export function onAbort(signal: AbortSignal | undefined, fn: (reason: unknown) => void): () => void {
  const listener = (): void => fn(signal?.reason);
  if (signal?.aborted) listener();
  else signal?.addEventListener('abort', listener, { once: true });
  return () => signal?.removeEventListener('abort', listener);
}

/**
 * A child of `parent` (when given): aborted by `abort()` or by the parent, with the parent's
 * reason. `release()` removes the listener from the parent: AbortSignal.any would leave an entry
 * per call on a long-lived parent (a daemon run's signal) on Node 20.
 */
export function childAbort(parent: AbortSignal | undefined): {
  controller: AbortController;
  release(): void;
} {
  const controller = new AbortController();
  const release = onAbort(parent, (reason) => controller.abort(reason));
  return { controller, release };
}
