/** Options of waitFor: how long to poll, how often, and what to say when the condition never holds. */
export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Describes the awaited condition in the timeout error (a string, or a function for late detail). */
  message?: string | (() => string);
}

/**
 * Polls `predicate` until it returns (or resolves to) true; rejects after `timeoutMs` with `message`.
 * Generous by default because tests run on loaded 2-core machines; a passing test returns early.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = 15_000, intervalMs = 25, message = 'condition' }: WaitForOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
      lastError = undefined;
    } catch (err) {
      // A predicate may throw while the state is in flux (a file not written yet); keep polling.
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const text = typeof message === 'function' ? message() : message;
      throw new Error(
        `waitFor timed out after ${timeoutMs} ms: ${text}`,
        lastError === undefined ? {} : { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
