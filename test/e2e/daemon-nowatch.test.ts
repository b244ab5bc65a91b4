/**
 * `files-sync run` with watching off: the process must stay up on its reconciliation timer alone
 * (the daemon's own timers are unref'd) and still stop cleanly on SIGTERM.
 */
import { expect, it } from 'vitest';
import { makeProject } from '../helpers/project.js';
import { startDaemon, waitForSync } from './daemon-harness.js';

it('stays up with watch.enabled false, reconciles on its timer, and exits 0 on SIGTERM', async () => {
  const p = await makeProject({
    files: { 'a.txt': 'a' },
    config: { watch: { enabled: false }, reconcile: { intervalMs: 10_000 } },
  });
  const daemon = await startDaemon(p);
  await waitForSync(p, { what: 'startup reconciliation' });
  await p.write('b.txt', 'written while not watching');
  // Only the 10 s timer can find this file: the process must still be alive by then.
  await waitForSync(p, { what: 'timer reconciliation', timeoutMs: 45_000 });
  // Still the same process, still running: exitCode and signalCode stay null until it exits.
  expect({ exitCode: daemon.child.exitCode, signalCode: daemon.child.signalCode }).toEqual({
    exitCode: null,
    signalCode: null,
  });
  process.kill(daemon.pid, 0);
  expect(await daemon.stop('SIGTERM')).toEqual({ code: 0, signal: null });
});
