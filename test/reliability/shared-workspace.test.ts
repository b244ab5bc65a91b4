/**
 * Trust in a shared workspace (issue 9): another client's files of the same name and size are
 * never adopted or deleted (F1); copies an abandoned upload creates late are found and reported
 * (F6b); a consumer re-reading the manifest never meets an ID that is already deleted (F4).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeProject, TEST_KEY, type Project } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { FilesClient, type FilesClientOptions } from '../../src/api/client.js';
import { openManifest } from '../../src/state/manifest.js';
import { openFolderSession, reconcileSession } from '../../src/sync/session.js';
import type { ExecutorClient } from '../../src/sync/execute.js';
import type { RemoteLister } from '../../src/sync/pass.js';
import { silentLogger } from '../../src/log.js';
import { hashFile } from '../../src/local/hash.js';

let project: Project | undefined;
const clients: FilesClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await project?.cleanup();
  project = undefined;
});

async function setup(
  files: Record<string, string>,
  clientOptions: Partial<FilesClientOptions> = {},
): Promise<{ p: Project; config: Config; client: FilesClient }> {
  const p = (project = await makeProject({ files }));
  const { config } = await loadConfig({ configPath: p.configPath, env: {} });
  // The shared workspace is the default; the test project declares its emulator exclusive.
  config.api.workspaceExclusive = false;
  const client = new FilesClient({
    apiKey: TEST_KEY,
    baseUrl: p.emulator.url,
    backoffBaseMs: 1,
    maxBackoffMs: 5,
    maxRetries: 30,
    ...clientOptions,
  });
  clients.push(client);
  return { p, config, client };
}

/** One reconciliation in a fresh session (as `files-sync sync` does). */
async function reconcile(config: Config, client: ExecutorClient & RemoteLister) {
  const session = await openFolderSession(config, config.folders[0]!, client, silentLogger());
  try {
    return await reconcileSession(session, config, client, {});
  } finally {
    await session.close();
  }
}

/** The folder's whole state as a reader sees it (head, shards and journal merged). */
async function manifestJson(config: Config): Promise<{
  entries: Record<string, { fileId: string; sha256: string }>;
  suspects?: Record<string, { fileId: string; why: string }>;
  unsettled?: Record<string, unknown>;
}> {
  return (await openManifest(config.stateDir, config.folders[0]!.name)).toData();
}

describe('F1: another client uploads files of the same names and sizes', () => {
  it("never adopts, records or deletes the other client's files, with half the requests failing", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`report-${i}.txt`] = `our report number ${String(i).padStart(3, '0')}`;
    const { p, config, client } = await setup(files);
    // The other program's copies: same name, same size, other bytes, uploaded a little earlier.
    const foreign = new Set<string>();
    for (const [name, content] of Object.entries(files)) {
      const f = p.emulator.addFile({
        filename: name,
        sizeBytes: Buffer.byteLength(content),
        sha256: 'f'.repeat(64),
        createdAt: new Date(Date.now() - 5_000).toISOString(),
      });
      foreign.add(f.id);
    }
    p.emulator.setFaults({ rate500: 0.5, seed: 9 });
    const first = await reconcile(config, client);
    p.emulator.setFaults({});
    expect(first.failed).toEqual([]);
    expect(p.emulator.stats().faultsInjected.rate500).toBeGreaterThan(20);

    const m = await manifestJson(config);
    const recorded = Object.values(m.entries);
    expect(recorded).toHaveLength(60);
    const adoptedForeign = recorded.filter((e) => foreign.has(e.fileId));
    expect(adoptedForeign, "manifest entries pointing at the other program's files").toEqual([]);
    // Every recorded ID holds our bytes.
    const remote = new Map(p.emulator.files().map((f) => [f.id, f]));
    for (const [rel, e] of Object.entries(m.entries))
      expect(remote.get(e.fileId)?.sha256, rel).toBe((await hashFile(`${p.folder}/${rel}`)).sha256);

    // Deleting local files deletes only our copies.
    for (let i = 0; i < 10; i++) await p.remove(`report-${i}.txt`);
    const second = await reconcile(config, client);
    expect(second.failed).toEqual([]);
    const live = new Set(p.emulator.files().map((f) => f.id));
    expect(
      [...foreign].filter((id) => !live.has(id)),
      'foreign files deleted',
    ).toEqual([]);
    expect(live.size).toBe(60 + 50);
  });
});

describe('F6b: an abandoned upload whose file appears after the lookup', () => {
  it('keeps the attempt until a late listing, then reports the late copy (shared) or deletes it (exclusive)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`doc-${i}.txt`] = `document ${i}`;
    // Uploads time out after 300 ms; a late create appears 700 ms after it was sent.
    const { p, config, client } = await setup(files, { uploadTimeoutMs: 300 });
    p.emulator.setFaults({ rateLateCreate: 0.3, lateCreateMs: 700, seed: 4 });
    const first = await reconcile(config, client);
    p.emulator.setFaults({});
    expect(first.failed).toEqual([]);
    const injected = p.emulator.stats().faultsInjected;
    expect(injected.rateLateCreate).toBeGreaterThan(0);
    // Every held upload has created its file by now.
    await waitFor(() => p.emulator.stats().faultsInjected.lateCreated === injected.rateLateCreate);
    // A late file that landed before its lookup was adopted (provably ours); the rest are extra.
    const late = p.emulator.files().length - 40;
    expect(late).toBeGreaterThan(0);
    const before = await manifestJson(config);
    expect(Object.keys(before.entries)).toHaveLength(40);
    // Each abandoned attempt is still on record, so a later listing will look for its copy.
    expect(Object.keys(before.unsettled ?? {}).length, 'unsettled attempts kept').toBeGreaterThanOrEqual(
      late,
    );

    // A reconciliation after the settle time (2 x the upload timeout) finds every late copy.
    await waitFor(async () => {
      const m = await openManifest(config.stateDir, 'docs');
      return m.unsettled().every((u) => Date.parse(u.settleAfter) < Date.now());
    });
    await reconcile(config, client);
    const m = await manifestJson(config);
    const suspects = Object.values(m.suspects ?? {});
    const recorded = new Set(Object.values(m.entries).map((e) => e.fileId));
    const unaccounted = p.emulator
      .files()
      .filter((f) => !recorded.has(f.id) && !suspects.some((s) => s.fileId === f.id));
    expect(unaccounted, 'remote files neither recorded nor reported').toEqual([]);
    expect(suspects).toHaveLength(late);
    expect(p.emulator.files()).toHaveLength(40 + late); // shared: nothing unproven is deleted
    expect((await openManifest(config.stateDir, 'docs')).unsettled()).toEqual([]);

    // Declared exclusive, the next sync cleans them.
    config.api.workspaceExclusive = true;
    await reconcile(config, client);
    expect(p.emulator.files()).toHaveLength(40);
    expect((await openManifest(config.stateDir, 'docs')).suspects()).toEqual([]);
  });
});

describe('F4: replacing a file', () => {
  it('never deletes an ID the manifest on disk still names, and keeps old IDs alive for their retention', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`f-${i}.txt`] = `version one of ${i}`;
    const { p, config, client } = await setup(files);
    await reconcile(config, client);
    // A consumer re-reading the manifest at the moment each delete is sent.
    const deadSeen: string[] = [];
    const watching: ExecutorClient & RemoteLister = {
      upload: (source, opts) => client.upload(source, opts),
      listAll: (opts) => client.listAll({ pageSize: opts?.pageSize ?? 1000 }),
      clockOffset: () => client.clockOffset(),
      delete: async (id, opts) => {
        const m = await openManifest(config.stateDir, 'docs');
        if (m.findByFileId(id) !== undefined) deadSeen.push(id);
        return client.delete(id, opts?.signal ? { signal: opts.signal } : {});
      },
    };
    for (let i = 0; i < 20; i++) await p.write(`f-${i}.txt`, `version two of ${i}, longer`);
    const oldIds = new Set(p.emulator.files().map((f) => f.id));
    const r = await reconcile(config, watching);
    expect(r.replaced).toBe(20);
    expect(deadSeen, 'IDs deleted while the manifest on disk still named them').toEqual([]);
    expect(p.emulator.files().filter((f) => oldIds.has(f.id))).toEqual([]);

    // With retention, the superseded IDs stay valid and the library says until when.
    config.retention.supersededMs = 600_000;
    for (let i = 0; i < 20; i++) await p.write(`f-${i}.txt`, `version three of ${i}, longer still`);
    const v2 = await openManifest(config.stateDir, 'docs');
    const v2Ids = new Map([...v2.entries()].map(([rel, e]) => [rel, e.fileId]));
    await reconcile(config, watching);
    const v3 = await openManifest(config.stateDir, 'docs');
    const live = new Set(p.emulator.files().map((f) => f.id));
    for (const [rel, id] of v2Ids) {
      expect(live.has(id), `${rel}: superseded ID still valid`).toBe(true);
      const prev = v3.previousIds(rel);
      expect(prev.map((x) => x.fileId)).toEqual([id]);
      expect(Date.parse(prev[0]!.until)).toBeGreaterThan(Date.now() + 500_000);
    }
    expect(deadSeen).toEqual([]);
  });
});
