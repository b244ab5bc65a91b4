/**
 * An upload whose connection resets before any answer is looked for among the newest remote files
 * with the same name and size. Files this folder already owns (from an earlier run, so unknown to
 * the new process's client) must never be taken for it: that would point two paths at one file ID.
 * Run against both state backends.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, backendProject, readState } from '../helpers/backend.js';
import { expectMirrored } from '../helpers/mirror.js';
import { seedFor, syncJson } from './support.js';

describe.each(BACKENDS)('ambiguous upload recovery (%s state)', (backend) => {
  it('never adopts a file another path of the folder already owns (same name and size, earlier run)', async () => {
    const project = await backendProject(backend, {
      files: { 'a/index.md': 'AAAA' },
      config: { api: { concurrency: 1 } },
    });
    expect((await syncJson(project)).code).toBe(0);
    const aId = (await readState(project)).get('a/index.md')!.fileId;

    await project.write('b/index.md', 'BBBB');
    // Requests of the next run: list (passes), POST b/index.md (reset, nothing created), the
    // lookup list (passes), then the retried POST and anything after it (pass).
    project.emulator.setFaults({ rateReset: 0.5, seed: seedFor([false, true, false, false, false, false]) });
    const run = await syncJson(project);
    project.emulator.setFaults({});
    expect(project.emulator.stats().faultsInjected.rateReset).toBe(1);
    expect(run.code).toBe(0);

    const m = await readState(project);
    expect(m.get('a/index.md')!.fileId).toBe(aId);
    expect(m.get('b/index.md')!.fileId).not.toBe(aId);
    await expectMirrored(project);
  }, 180_000);
});
