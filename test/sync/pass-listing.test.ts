/**
 * A full pass lists the remote while it scans the folder (the two wait on different things), and a
 * scan that finds the folder unavailable cancels the listing instead of leaving it running. The
 * one-shot sync walks the folder ahead too, on a thread, while the state is read.
 */
import { describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { makeProjectWithClient } from '../helpers/project.js';
import type { FilesClient } from '../../src/api/client.js';
import { openFolderSession, reconcileSession } from '../../src/sync/session.js';
import type { RemoteLister } from '../../src/sync/pass.js';
import type { ScanProgress } from '../../src/sync/local-state.js';
import type { RemoteFile } from '../../src/types.js';

async function setup(files: Record<string, string>, listAhead = false) {
  const { p, config, folder, c } = await makeProjectWithClient(files);
  const ahead = countingLister(c);
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as never) });
  const session = await openFolderSession(config, folder, c, logger, listAhead ? { listAhead: ahead } : {});
  return { config, session, lines, p, c, ahead };
}

/** A lister over the real client that counts the listings started and the signals they got. */
function countingLister(c: FilesClient): RemoteLister & { started: number; signals: AbortSignal[] } {
  const lister = {
    started: 0,
    signals: [] as AbortSignal[],
    async *listAll(opts?: { pageSize?: number; signal?: AbortSignal | undefined }) {
      lister.started++;
      if (opts?.signal) lister.signals.push(opts.signal);
      for await (const f of c.listAll({ pageSize: 1000, ...(opts?.signal ? { signal: opts.signal } : {}) }))
        yield f;
    },
  };
  return lister;
}

describe('the remote listing of a full pass', () => {
  it('is under way before the scan reads the folder, and the plan sees both', async () => {
    const s = await setup({ 'a.txt': 'a', 'docs/b.txt': 'b' });
    const other = s.p.emulator.addFile({ filename: 'theirs.txt', sizeBytes: 5 });
    const pagesAsked: string[] = [];
    const phases: Array<{ phase: ScanProgress['phase']; pagesAsked: number }> = [];
    const c = s.c;
    const lister: RemoteLister = {
      async *listAll(opts) {
        pagesAsked.push('first');
        for await (const f of c.listAll({ pageSize: 1000, ...(opts?.signal ? { signal: opts.signal } : {}) }))
          yield f;
      },
    };
    try {
      const report = await reconcileSession(s.session, s.config, lister, {
        onProgress: (e) => phases.push({ phase: e.phase, pagesAsked: pagesAsked.length }),
      });
      expect(report.failed).toEqual([]);
      expect(report.uploaded).toBe(2);
      // Another program's file was listed, so it counts as unmanaged (and nothing touched it).
      expect(report.unmanagedRemote).toBe(1);
      expect(s.p.emulator.files().map((f: RemoteFile) => f.id)).toContain(other.id);
    } finally {
      await s.session.close();
    }
    expect(phases[0]).toEqual({ phase: 'scanning', pagesAsked: 1 });
    expect(phases.map((e) => e.phase)).toContain('listing');
  });

  /** A listing that never answers until it is cancelled, and the signal it got. */
  function hangingLister(): RemoteLister & { signal?: AbortSignal | undefined } {
    const lister: RemoteLister & { signal?: AbortSignal | undefined } = {
      async *listAll(opts) {
        lister.signal = opts?.signal;
        await new Promise((_, reject) =>
          opts?.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
        );
        yield* [];
      },
    };
    return lister;
  }

  it('is cancelled, quietly, when the scan finds the folder gone', async () => {
    const s = await setup({ 'a.txt': 'a' });
    const lister = hangingLister();
    await fs.rm(s.p.folder, { recursive: true, force: true });
    try {
      const report = await reconcileSession(s.session, s.config, lister, {});
      expect(report.status).toBe('unavailable');
    } finally {
      await s.session.close();
    }
    expect(lister.signal?.aborted).toBe(true);
    expect(s.lines.filter((l) => String(l['msg']).includes('listing'))).toEqual([]);
  });

  it('ends with a stop (or Ctrl-C) during the scan, and neither it nor the folder is called failed', async () => {
    const s = await setup({ 'a.txt': 'a', 'b/c.txt': 'c' });
    const lister = hangingLister();
    const stop = new AbortController();
    try {
      const report = await reconcileSession(s.session, s.config, lister, {
        signal: stop.signal,
        onProgress: (e) => {
          if (e.phase === 'scanning') stop.abort(new Error('stopped'));
        },
      });
      expect(report.status).toBe('unavailable');
      expect(report.uploaded).toBe(0);
    } finally {
      await s.session.close();
    }
    expect(lister.signal?.aborted).toBe(true);
    // Let a late log line from the cancelled listing arrive, if any would.
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.lines.map((l) => l['msg'])).toEqual([]);
  });

  it('starts as the session opens when asked (listAhead), and only the first reconciliation uses it', async () => {
    const s = await setup({ 'a.txt': 'a' }, true);
    const { ahead } = s;
    // Under way before the state was read: the open returned with it started.
    expect(ahead.started).toBe(1);
    const later = countingLister(s.c);
    try {
      const first = await reconcileSession(s.session, s.config, later, {});
      expect(first).toMatchObject({ status: 'ok', uploaded: 1, remoteFiles: 0 });
      expect(later.started).toBe(0);
      // The next reconciliation lists afresh (and sees the upload).
      const second = await reconcileSession(s.session, s.config, later, {});
      expect(second).toMatchObject({ status: 'ok', unchanged: 1, remoteFiles: 1 });
      expect(later.started).toBe(1);
    } finally {
      await s.session.close();
    }
    expect(ahead.started).toBe(1);
  });

  it('started at open and never used is cancelled when the session closes', async () => {
    const s = await setup({ 'a.txt': 'a' }, true);
    await s.session.close();
    expect(s.ahead.signals.map((x) => x.aborted)).toEqual([true]);
    expect(s.session.takeHeadStart()).toBeUndefined();
  });

  it('started at open is cancelled when the state cannot be opened', async () => {
    const { config, folder, c } = await makeProjectWithClient({ 'a.txt': 'a' });
    await fs.mkdir(config.stateDir, { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(config.stateDir, `${folder.name}.manifest.json`), '{"version": 3, "torn', {
      mode: 0o600,
    });
    const ahead = countingLister(c);
    await expect(
      openFolderSession(config, folder, c, pino({ level: 'silent' }), { listAhead: ahead }),
    ).rejects.toThrow();
    expect(ahead.signals.map((x) => x.aborted)).toEqual([true]);
  });
});

describe('the walk of a first reconciliation', () => {
  const silent = pino({ level: 'silent' });

  it('with walkAhead starts as the session opens (the one-shot sync): a file written after the open waits for the next pass', async () => {
    const { p, config, folder, c } = await makeProjectWithClient({ 'a.txt': 'a' });
    const session = await openFolderSession(config, folder, c, silent, { listAhead: c, walkAhead: true });
    try {
      const headStart = session.takeHeadStart();
      expect(headStart?.scan).toBeDefined();
      await headStart!.scan!.result;
      await fs.writeFile(path.join(p.folder, 'late.txt'), 'late');
      const first = await reconcileSession(session, config, c, { ...headStart });
      expect(first).toMatchObject({ status: 'ok', localFiles: 1, uploaded: 1 });
      const second = await reconcileSession(session, config, c, {});
      expect(second).toMatchObject({ status: 'ok', localFiles: 2, uploaded: 1, unchanged: 1 });
    } finally {
      await session.close();
    }
  });

  it('without walkAhead (the daemon, whose walk must follow its watcher) walks when the pass runs: nothing written meanwhile is missed', async () => {
    const { p, config, folder, c } = await makeProjectWithClient({ 'a.txt': 'a' });
    const session = await openFolderSession(config, folder, c, silent, { listAhead: c });
    try {
      await fs.writeFile(path.join(p.folder, 'late.txt'), 'late');
      const first = await reconcileSession(session, config, c, {});
      expect(first).toMatchObject({ status: 'ok', localFiles: 2, uploaded: 2 });
      expect(session.takeHeadStart()).toBeUndefined();
    } finally {
      await session.close();
    }
  });
});
