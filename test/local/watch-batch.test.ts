/** datedBatch: the two halves of a rename fall due together, a batch is handed on oldest first. */
import { describe, expect, it } from 'vitest';
import { datedBatch } from '../../src/local/watch-batch.js';
import type { WatchEvent } from '../../src/local/watch-types.js';

const tracked = new Map([
  ['old.txt', 7],
  ['gone.txt', 9],
]);
const inoOf = (p: string) => tracked.get(p);

describe('datedBatch', () => {
  it('gives an unlink the age of the changed path holding its tracked inode (a rename)', () => {
    const batch: WatchEvent[] = [
      { type: 'unlink', path: 'old.txt', quietMs: 50 },
      { type: 'change', path: 'new.txt', quietMs: 240, ino: 7 },
      { type: 'unlink', path: 'gone.txt', quietMs: 50 },
    ];
    expect(datedBatch(batch, inoOf)).toEqual([
      { type: 'unlink', path: 'old.txt', quietMs: 240 },
      { type: 'change', path: 'new.txt', quietMs: 240, ino: 7 },
      { type: 'unlink', path: 'gone.txt', quietMs: 50 },
    ]);
  });

  it('hands the batch on oldest first, equal ages in arrival order, without changing the input', () => {
    const batch: WatchEvent[] = [
      { type: 'change', path: 'a', quietMs: 10, ino: 1 },
      { type: 'change', path: 'b', quietMs: 300, ino: 2 },
      { type: 'dir', path: 'd' },
      { type: 'change', path: 'c', quietMs: 10, ino: 3 },
    ];
    const copy = structuredClone(batch);
    expect(datedBatch(batch, inoOf).map((e) => e.path)).toEqual(['b', 'a', 'c', 'd']);
    expect(batch).toEqual(copy);
  });

  it('leaves an unlink whose inode is not tracked, or not among the changes, as it came', () => {
    const batch: WatchEvent[] = [
      { type: 'unlink', path: 'untracked.txt', quietMs: 50 },
      { type: 'unlink', path: 'gone.txt', quietMs: 50 },
      { type: 'change', path: 'x', quietMs: 100, ino: 8 },
    ];
    expect(datedBatch(batch, inoOf).filter((e) => e.type === 'unlink')).toEqual([
      { type: 'unlink', path: 'untracked.txt', quietMs: 50 },
      { type: 'unlink', path: 'gone.txt', quietMs: 50 },
    ]);
  });
});
