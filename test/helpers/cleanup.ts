/**
 * Per-test clean-up registry: fixtures register what they start (emulators, temp dirs, daemons)
 * and everything is undone after each test, newest first, so test files need no afterEach of
 * their own for them.
 */
import { afterEach } from 'vitest';

const pending: Array<() => Promise<unknown>> = [];

/** Runs `fn` after the current test, before anything registered earlier. */
export function onCleanup(fn: () => Promise<unknown>): void {
  pending.push(fn);
}

afterEach(async () => {
  const errors: unknown[] = [];
  for (const fn of pending.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'test clean-up failed');
});
