/**
 * `files-sync verify` and `status --remote` with folders in two workspaces of one key: each folder
 * is checked in its own workspace, by ID (the `ids` filter) when few IDs are to be checked, by one
 * listing per workspace otherwise (the beta contract, which has no filter); `--path` checks a subset.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeProject, runCli, type Project } from '../helpers/project.js';
import { syncJson } from '../helpers/sync-cli.js';
import { openManifest } from '../../src/state/manifest.js';
import type { VerifyReport } from '../../src/sync/verify.js';

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

type FolderResult = VerifyReport & { folder: string; remoteCheck: string };

/** Two folders, `docs` in wrkspc_main (the api default) and `legal` in wrkspc_legal. */
async function twoWorkspaces(opts: {
  gaOnly: boolean;
  contract?: string;
  config?: Record<string, unknown>;
}): Promise<Project> {
  const p = await makeProject({
    files: { 'a.txt': 'alpha', 'sub/b.md': '# b' },
    emulator: { gaOnly: opts.gaOnly, workspaces: ['wrkspc_main', 'wrkspc_legal'] },
  });
  const legal = path.join(p.dir, 'legal');
  await fs.mkdir(legal);
  await fs.writeFile(path.join(legal, 'nda.pdf'), '%PDF-1.4 nda');
  await fs.writeFile(path.join(legal, 'msa.pdf'), '%PDF-1.4 msa');
  const config = JSON.parse(await fs.readFile(p.configPath, 'utf8')) as Record<string, unknown>;
  config.api = {
    ...(config.api as object),
    workspaceId: 'wrkspc_main',
    ...(opts.contract ? { contract: opts.contract } : {}),
  };
  Object.assign(config, opts.config);
  config.folders = [
    { name: 'docs', path: p.folder },
    { name: 'legal', path: legal, workspaceId: 'wrkspc_legal' },
  ];
  await fs.writeFile(p.configPath, JSON.stringify(config, null, 2));
  const first = await syncJson(p);
  expect(first.code, first.stderr).toBe(0);
  return p;
}

async function verify(
  p: Project,
  args: string[] = [],
): Promise<{ code: number | null; results: FolderResult[] }> {
  const r = await runCli(['verify', '-c', p.configPath, '--json', ...args], { env: p.env });
  try {
    return { code: r.code, results: JSON.parse(r.stdout) as FolderResult[] };
  } catch {
    throw new Error(`verify printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

/** Deletes a file the way another program would. */
async function deleteBehindOurBack(p: Project, id: string, workspace: string): Promise<void> {
  const del = await fetch(`${p.emulator.url}/v1/files/${id}`, {
    method: 'DELETE',
    headers: {
      'x-api-key': p.env.ANTHROPIC_API_KEY!,
      'anthropic-version': '2023-06-01',
      'anthropic-workspace-id': workspace,
    },
  });
  expect(del.status).toBe(200);
}

const summary = (results: FolderResult[]) =>
  results.map((r) => ({
    folder: r.folder,
    remoteCheck: r.remoteCheck,
    drift: r.drift.map((d) => `${d.kind} ${d.path}`),
  }));

describe('verify across workspaces', () => {
  it('checks each folder in its own workspace by ID, without listing the crowded one', async () => {
    const p = (project = await twoWorkspaces({ gaOnly: true }));
    // Someone else's 2500 files in the main workspace: a listing would take three pages.
    for (let i = 0; i < 2500; i++)
      p.emulator.addFile({ filename: `other-${i}.txt`, sizeBytes: 1, workspaceId: 'wrkspc_main' });
    const before = p.emulator.stats().requests;
    const ok = await verify(p);
    expect(summary(ok.results)).toEqual([
      { folder: 'docs', remoteCheck: 'ids', drift: [] },
      { folder: 'legal', remoteCheck: 'ids', drift: [] },
    ]);
    expect(ok.code).toBe(0);
    // One ids request per folder: no page of the 2500 foreign files was fetched.
    expect(p.emulator.stats().requests - before).toBe(2);
  });

  it('finds a copy deleted in the second workspace, and checks a --path subset', async () => {
    const p = (project = await twoWorkspaces({ gaOnly: true }));
    // A legal copy deleted behind our back shows in legal only (its own workspace was asked).
    const m = await openManifest(p.stateDir, 'legal');
    const nda = m.get('nda.pdf')!.fileId;
    await deleteBehindOurBack(p, nda, 'wrkspc_legal');
    const drift = await verify(p);
    expect(drift.code).toBe(1);
    expect(summary(drift.results)).toEqual([
      { folder: 'docs', remoteCheck: 'ids', drift: [] },
      { folder: 'legal', remoteCheck: 'ids', drift: ['missing-remote nda.pdf'] },
    ]);

    // A subset: only msa.pdf is hashed and looked up.
    const subset = await verify(p, ['--folder', 'legal', '--path', './msa.pdf']);
    expect(summary(subset.results)).toEqual([{ folder: 'legal', remoteCheck: 'ids', drift: [] }]);
    expect(subset.results[0]?.checked).toBe(1);
    expect(subset.code).toBe(0);
  });

  it('lists each workspace once with the beta contract, which has no ids filter', async () => {
    const p = (project = await twoWorkspaces({ gaOnly: false, contract: 'beta' }));
    const r = await verify(p);
    expect(summary(r.results)).toEqual([
      { folder: 'docs', remoteCheck: 'list', drift: [] },
      { folder: 'legal', remoteCheck: 'list', drift: [] },
    ]);
    expect(r.code).toBe(0);
  });
});

describe('status --remote', () => {
  it("looks up queued deletes by ID in each folder's workspace and names those already gone", async () => {
    const p = (project = await twoWorkspaces({
      gaOnly: true,
      config: { retention: { supersededMs: 0, removedMs: 3_600_000 } },
    }));
    const legalRoot = path.join(p.dir, 'legal');
    await fs.rm(path.join(legalRoot, 'nda.pdf'));
    await fs.rm(path.join(p.folder, 'a.txt'));
    const removed = await syncJson(p);
    expect(removed.code, removed.stderr).toBe(0);
    const nda = (await openManifest(p.stateDir, 'legal')).pendingDeletes()[0]!.fileId;
    await deleteBehindOurBack(p, nda, 'wrkspc_legal');

    const before = p.emulator.stats().requests;
    const r = await runCli(['status', '--json', '--remote', '-c', p.configPath], { env: p.env });
    const json = JSON.parse(r.stdout) as { folders: Array<{ name: string; remote: unknown }> };
    expect(json.folders.map((f) => [f.name, f.remote])).toEqual([
      ['docs', { suspects: 0, suspectsGone: [], queuedDeletes: 1, queuedDeletesGone: [] }],
      ['legal', { suspects: 0, suspectsGone: [], queuedDeletes: 1, queuedDeletesGone: [nda] }],
    ]);
    // One ids request per folder, nothing listed.
    expect(p.emulator.stats().requests - before).toBe(2);
    const human = await runCli(['status', '--remote', '-c', p.configPath], { env: p.env });
    expect(human.stdout).toContain(
      'remote: 0 of 0 suspects still on the server; 1 of 1 queued deletes already gone',
    );
  });
});
