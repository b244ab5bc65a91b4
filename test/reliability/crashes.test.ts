/**
 * SIGKILL at random moments (3 seeded rounds here; 20 in test/soak) of `sync` and of the daemon,
 * with edits before and during each run. The manifest always parses, a fresh `sync` then
 * converges, and the remote side is an exact mirror: no duplicates, no orphans. Run against both
 * state backends (postgres: each round waits for the killed owner's lease to go stale).
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, backendProject } from '../helpers/backend.js';
import { expectMirrored } from '../helpers/mirror.js';
import { runCrashRounds } from './crash-rounds.js';
import { syncJson, syncUntilClean, writeTree } from './support.js';

/** Config of a crash project: latency makes kills land mid-request; low debounce keeps the daemon busy. */
export const CRASH_CONFIG = {
  api: { concurrency: 4, maxRetryTimeMs: 30_000 },
  watch: { debounceMs: 100 },
  safety: { maxDeletes: 500, maxDeletePercent: 50 },
};

describe.each(BACKENDS)('crash recovery under SIGKILL (%s state)', (backend) => {
  it('3 seeded rounds of killed sync/run converge with no duplicates or orphans', async () => {
    const project = await backendProject(backend, {
      emulator: { faults: { latencyMs: 25 } },
      config: CRASH_CONFIG,
    });
    await writeTree(project.folder, 150, { dirs: 10, seed: 3 });
    const infos = await runCrashRounds(project, { rounds: 3, seed: 4242, maxRequestsBeforeKill: 80 });
    // With this seed both commands are killed at least once, mid-work.
    expect(new Set(infos.map((i) => i.command))).toEqual(new Set(['sync', 'run']));

    project.emulator.setFaults({});
    await syncUntilClean(project, 3);
    const final = await syncJson(project);
    expect(final.code).toBe(0);
    expect(final.reports[0]).toMatchObject({ uploaded: 0, replaced: 0, deleted: 0, moved: 0, failed: [] });
    await expectMirrored(project);
  }, 180_000);
});
