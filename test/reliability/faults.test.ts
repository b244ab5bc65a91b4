/**
 * Sync under a faulty API: 2,000 small files while the emulator answers 20% of requests with a
 * fault (429, 500, 529, connection reset, created-then-reset) and adds latency to every answer.
 * `sync` is run until it exits 0; then faults go off and the mirror must be exact. Run against
 * both state backends.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, backendProject } from '../helpers/backend.js';
import { expectMirrored } from '../helpers/mirror.js';
import { syncJson, syncUntilClean, writeTree } from './support.js';

/** 20% of requests faulted, spread over every kind the emulator has; every answer slowed. */
export const MIXED_FAULTS = {
  rate429: 0.04,
  rate500: 0.04,
  rate529: 0.04,
  rateReset: 0.04,
  rateCreatedThenReset: 0.04,
  latencyMs: 15,
  retryAfterMs: 50,
} as const;

/** Rewrites every index.md (same size), edits 100 files, deletes 100, adds 100; returns the new file list. */
async function applyEdits(root: string, files: readonly string[]): Promise<string[]> {
  const kept = new Set(files);
  for (const rel of files.filter((f) => f.endsWith('index.md'))) {
    const dir = rel.split('/')[0]!;
    await fs.writeFile(path.join(root, rel), `INDEX OF ${dir}\n`);
  }
  const others = files.filter((f) => !f.endsWith('index.md'));
  for (const rel of others.slice(0, 100)) await fs.appendFile(path.join(root, rel), 'edited\n');
  for (const rel of others.slice(100, 200)) {
    await fs.rm(path.join(root, rel));
    kept.delete(rel);
  }
  for (let i = 0; i < 100; i++) {
    const rel = `new/n${i}.txt`;
    await fs.mkdir(path.join(root, 'new'), { recursive: true });
    await fs.writeFile(path.join(root, rel), `new file ${i}\n`);
    kept.add(rel);
  }
  return [...kept];
}

describe.each(BACKENDS)('sync under mixed faults, 20 percent of requests (%s state)', (backend) => {
  it('2,000 files converge: remote == local, no duplicates, no orphans', async () => {
    const project = await backendProject(backend, {
      emulator: { faults: { ...MIXED_FAULTS, seed: 20260501 } },
      config: {
        api: {
          concurrency: 16,
          maxConnections: 16,
          maxRetries: 4,
          maxRetryTimeMs: 30_000,
          timeoutMs: 20_000,
        },
      },
    });
    const files = await writeTree(project.folder, 2000, { dirs: 40, seed: 7 });

    const runs = await syncUntilClean(project, 6);
    const faults = project.emulator.stats().faultsInjected;
    // The test only means something if every kind of fault actually happened.
    for (const kind of ['rate429', 'rate500', 'rate529', 'rateReset', 'rateCreatedThenReset'])
      expect(faults[kind], kind).toBeGreaterThan(0);
    expect(runs.at(-1)!.reports[0]!.failed).toEqual([]);

    // Second round, still faulted: edits (every index.md keeps its size), deletes and additions.
    const local = await applyEdits(project.folder, files);
    await syncUntilClean(project, 6);

    project.emulator.setFaults({});
    const final = await syncJson(project);
    expect(final.code).toBe(0);
    expect(final.reports[0]).toMatchObject({
      uploaded: 0,
      replaced: 0,
      deleted: 0,
      failed: [],
      unchanged: local.length,
      localFiles: local.length,
    });
    await expectMirrored(project);
  }, 240_000);
});
