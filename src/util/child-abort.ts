// An AbortController that also aborts when a parent signal does, and lets go of the parent when released.

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
  const onParentAbort = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return { controller, release: () => parent?.removeEventListener('abort', onParentAbort) };
}
