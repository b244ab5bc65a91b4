/**
 * The "remote == local" check shared by end-to-end and reliability tests: every local file has
 * exactly one manifest entry whose file ID is live on the emulator with the same SHA-256 and size,
 * the emulator holds nothing else (no orphans, no duplicates) and no intent or delete is pending.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { readState } from './backend.js';

/** Where a mirror lives: the local folder, its state (state dir or database, folder name) and the emulator. */
export interface MirrorTarget {
  folder: string;
  stateDir: string;
  /** The folder's state is in this PostgreSQL database (see backendProject), not in stateDir. */
  databaseUrl?: string | undefined;
  emulator: Pick<RunningEmulator, 'files'>;
  /** Folder name in the config; default 'docs' (what makeProject writes). */
  folderName?: string;
}

export interface MirrorOptions {
  /** Remote files that are not ours (seeded with addFile) and must still be there. */
  unmanaged?: number;
  /** Local paths that are expected not to sync (special files, too large, ...). */
  ignore?: (relPath: string) => boolean;
}

/** Relative POSIX paths of every regular file under `root` (symlinks and special files left out). */
export async function listLocalFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    for (const d of await fs.readdir(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(path.join(dir, d.name), r);
      else if (d.isFile()) out.push(r);
    }
  }
  await walk(root, '');
  return out.sort();
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Every way the remote side differs from the local folder, as readable lines; empty when mirrored.
 * Soak tests print these; `expectMirrored` asserts on them.
 */
export async function mirrorProblems(target: MirrorTarget, opts: MirrorOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const m = await readState(target, target.folderName ?? 'docs');
  const remoteFiles = target.emulator.files();
  const remote = new Map(remoteFiles.map((f) => [f.id, f]));
  const local = (await listLocalFiles(target.folder)).filter((p) => !(opts.ignore?.(p) ?? false));
  const localSet = new Set(local);
  const entries = new Map(m.entries());

  for (const p of local) if (!entries.has(p)) problems.push(`local file without a manifest entry: ${p}`);
  for (const p of entries.keys())
    if (!localSet.has(p)) problems.push(`manifest entry without a local file: ${p}`);

  const owners = new Map<string, string[]>();
  for (const [rel, e] of entries) owners.set(e.fileId, [...(owners.get(e.fileId) ?? []), rel]);
  for (const [id, paths] of owners)
    if (paths.length > 1)
      problems.push(`file ID ${id} is recorded for ${paths.length} paths: ${paths.join(', ')}`);

  // Hashed a few at a time: the load soak checks 100k files.
  let next = 0;
  const checkOne = async (rel: string): Promise<void> => {
    const e = entries.get(rel);
    if (!e) return;
    const f = remote.get(e.fileId);
    if (!f) {
      problems.push(`remote copy of ${rel} (${e.fileId}) is missing`);
      return;
    }
    const abs = path.join(target.folder, ...rel.split('/'));
    const [sha, st] = await Promise.all([sha256Of(abs), fs.stat(abs)]);
    if (e.sha256 !== sha) problems.push(`manifest hash of ${rel} is stale`);
    if (f.sha256 !== sha) problems.push(`remote content of ${rel} (${e.fileId}) differs from the local file`);
    if (f.sizeBytes !== st.size || e.size !== st.size)
      problems.push(`size of ${rel}: local ${st.size}, manifest ${e.size}, remote ${f.sizeBytes}`);
  };
  await Promise.all(
    Array.from({ length: Math.min(16, local.length) }, async () => {
      while (next < local.length) await checkOne(local[next++]!);
    }),
  );

  const expectedRemote = owners.size + (opts.unmanaged ?? 0);
  if (remote.size !== expectedRemote) {
    const extra = remoteFiles.filter((f) => !owners.has(f.id));
    problems.push(
      `emulator holds ${remote.size} files, expected ${expectedRemote}` +
        ` (${extra.length} not in the manifest, e.g. ${extra
          .slice(0, 5)
          .map((f) => `${f.filename}:${f.id}`)
          .join(', ')})`,
    );
  }
  const intents = m.pendingUploads();
  if (intents.length > 0)
    problems.push(`${intents.length} pending upload intents remain, e.g. ${intents[0]!.path}`);
  const deletes = m.pendingDeletes();
  if (deletes.length > 0)
    problems.push(`${deletes.length} pending deletes remain, e.g. ${deletes[0]!.fileId}`);
  return problems;
}

/** Asserts remote == local (see the module comment); the failure lists every difference. */
export async function expectMirrored(target: MirrorTarget, opts: MirrorOptions = {}): Promise<void> {
  expect(await mirrorProblems(target, opts)).toEqual([]);
}
