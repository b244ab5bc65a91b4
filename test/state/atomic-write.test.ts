import { lstat, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileExclusive, tempPathFor, writeFileAtomic } from '../../src/state/atomic-write.js';

let dir: string;
let outside: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-atomic-'));
  outside = path.join(dir, 'outside.txt');
  await writeFile(outside, 'precious\n');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createFileExclusive', () => {
  it('refuses a name where a symlink was planted, writing nothing through it', async () => {
    const link = path.join(dir, 'planted');
    await symlink(outside, link);
    await expect(createFileExclusive(link, 'evil\n')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(outside, 'utf8')).toBe('precious\n');
  });

  it('refuses a dangling symlink instead of creating its target', async () => {
    const link = path.join(dir, 'dangling');
    const target = path.join(dir, 'would-be-created');
    await symlink(target, link);
    await expect(createFileExclusive(link, 'evil\n')).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates a new file 0600 by default', async () => {
    const file = path.join(dir, 'new');
    await createFileExclusive(file, 'x');
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
  });
});

describe('writeFileAtomic', () => {
  it('replaces a symlink at the target itself instead of writing through it, and leaves no temp file', async () => {
    const target = path.join(dir, 'status.json');
    await symlink(outside, target);
    await writeFileAtomic(target, '{"ok":true}\n');
    expect(await readFile(outside, 'utf8')).toBe('precious\n');
    const st = await lstat(target);
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['outside.txt', 'status.json']);
  });

  it('never uses the pid-only temp name of old versions, and no two temp names repeat', () => {
    const file = path.join(dir, 'status.json');
    const names = new Set(Array.from({ length: 1000 }, () => tempPathFor(file)));
    expect(names.size).toBe(1000);
    expect(names.has(`${file}.${process.pid}.tmp`)).toBe(false);
    for (const name of names) expect(path.basename(name)).toMatch(/^\.status\.json\.\d+\.[0-9a-f]{16}\.tmp$/);
  });
});
