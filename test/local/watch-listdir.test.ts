import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPathFilter } from '../../src/local/filter.js';
import { listDir } from '../../src/local/watch.js';
import { cleanupAll, tempDir } from './watch-harness.js';

afterEach(cleanupAll);

async function tree(root: string, files: string[]): Promise<void> {
  for (const f of files) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), f);
  }
}

const sorted = (xs: string[]): string[] => [...xs].sort();

describe('listDir', () => {
  it('lists files under a sub-directory recursively, relative to the folder root', async () => {
    const root = await tempDir();
    await tree(root, ['top.txt', 'd/a.txt', 'd/e/b.txt', 'd/e/f/c.txt', 'other/x.txt']);
    expect(sorted(await listDir(root, 'd', createPathFilter()))).toEqual([
      'd/a.txt',
      'd/e/b.txt',
      'd/e/f/c.txt',
    ]);
    expect(sorted(await listDir(root, '', createPathFilter()))).toEqual(
      sorted(['top.txt', 'd/a.txt', 'd/e/b.txt', 'd/e/f/c.txt', 'other/x.txt']),
    );
  });

  it('applies the filter with paths relative to the root, pruning excluded directories', async () => {
    const root = await tempDir();
    await tree(root, ['d/keep.md', 'd/drop.log', 'd/node_modules/pkg/index.js', 'd/.keep.md.swp']);
    const filter = createPathFilter({ exclude: ['**/*.log', '**/node_modules'] });
    expect(await listDir(root, 'd', filter)).toEqual(['d/keep.md']);
    expect(await listDir(root, 'd/node_modules', filter)).toEqual([]);
  });

  it('honours include patterns against the full relative path', async () => {
    const root = await tempDir();
    await tree(root, ['docs/a.md', 'docs/b.txt', 'src/c.md']);
    const filter = createPathFilter({ include: ['docs/**/*.md'] });
    expect(await listDir(root, 'docs', filter)).toEqual(['docs/a.md']);
    expect(await listDir(root, 'src', filter)).toEqual([]);
  });

  it('skips symlinks unless followSymlinks, and survives a symlink loop when following', async () => {
    const root = await tempDir();
    const outside = await tempDir('files-sync-outside-');
    await tree(root, ['d/real.txt']);
    await tree(outside, ['o.txt']);
    await symlink(outside, path.join(root, 'd', 'to-outside'));
    await symlink(path.join(root, 'd', 'real.txt'), path.join(root, 'd', 'file-link.txt'));
    await symlink(path.join(root, 'd'), path.join(root, 'd', 'loop'));
    await symlink(path.join(root, 'nowhere'), path.join(root, 'd', 'dangling'));

    expect(await listDir(root, 'd', createPathFilter())).toEqual(['d/real.txt']);
    expect(sorted(await listDir(root, 'd', createPathFilter(), { followSymlinks: true }))).toEqual(
      sorted(['d/real.txt', 'd/file-link.txt', 'd/to-outside/o.txt']),
    );
  });

  it('returns nothing for a directory that vanished or is a file', async () => {
    const root = await tempDir();
    await tree(root, ['file.txt']);
    expect(await listDir(root, 'gone', createPathFilter())).toEqual([]);
    expect(await listDir(root, 'file.txt', createPathFilter())).toEqual([]);
  });
});
