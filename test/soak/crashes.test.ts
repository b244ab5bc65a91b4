/**
 * Soak: 20 rounds of SIGKILL at seeded random moments of `sync` and `run`, with edits before and
 * during each run; the manifest always parses; then one clean convergence and an exact mirror.
 * SOAK_SEED replays a failing run.
 */
import { describe, expect, it } from 'vitest';
import { makeProject } from '../helpers/project.js';
import { expectMirrored } from '../helpers/mirror.js';
import { runCrashRounds } from '../reliability/crash-rounds.js';
import { syncJson, syncUntilClean, writeTree } from '../reliability/support.js';

const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);

describe('soak: crash recovery', () => {
  it(`20 rounds of killed sync/run converge (seed ${SEED})`, async () => {
    const project = await makeProject({
      emulator: { faults: { latencyMs: 25 } },
      config: {
        api: { concurrency: 4, maxRetryTimeMs: 30_000 },
        watch: { debounceMs: 100 },
        safety: { maxDeletes: 5000, maxDeletePercent: 50 },
      },
    });
    await writeTree(project.folder, 600, { dirs: 20, seed: SEED });
    const infos = await runCrashRounds(project, {
      rounds: 20,
      seed: SEED,
      maxRequestsBeforeKill: 200,
      onRound: (i) =>
        console.log(
          `round ${i.round}: ${i.command} killed after ${i.requests} requests (target ${i.killAfterRequests}${i.finishedFirst ? ', had finished' : ''}), manifest entries ${i.manifestEntries ?? 'none yet'}`,
        ),
    });
    expect(infos).toHaveLength(20);
    expect(new Set(infos.map((i) => i.command))).toEqual(new Set(['sync', 'run']));

    await syncUntilClean(project, 3);
    const final = await syncJson(project);
    expect(final.code).toBe(0);
    expect(final.reports[0]).toMatchObject({ uploaded: 0, replaced: 0, deleted: 0, moved: 0, failed: [] });
    await expectMirrored(project);
  });
});
