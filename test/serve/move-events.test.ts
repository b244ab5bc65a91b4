/** The change consumers see for a move: from another path, and a removed file back at its own path. */
import { describe, expect, it } from 'vitest';
import { changeFromOutcome } from '../../src/serve/change-events.js';
import type { PendingDelete } from '../../src/types.js';

const NOW = new Date('2026-12-01T00:00:00.000Z');
const local = (path: string) => ({ path, size: 1, mtimeMs: 1, ino: 1, sha256: 'h' });
const queued: PendingDelete = {
  fileId: 'file_a',
  path: 'a.txt',
  reason: 'removed',
  queuedAt: NOW.toISOString(),
  notBefore: new Date(NOW.getTime() + 60_000).toISOString(),
  sha256: 'h',
};

describe('changeFromOutcome for moves', () => {
  it('a move names the path it came from and the ID the new path has', () => {
    const change = changeFromOutcome(
      'docs',
      { op: { kind: 'move', from: 'old/a.txt', to: 'a.txt', local: local('a.txt') }, status: 'done' },
      (p) => (p === 'a.txt' ? 'file_a' : undefined),
      NOW,
    );
    expect(change).toEqual({
      type: 'moved',
      folder: 'docs',
      path: 'a.txt',
      fromPath: 'old/a.txt',
      fileId: 'file_a',
      previousFileId: null,
      time: NOW.toISOString(),
    });
  });

  it('a removed file back at its own path takes its ID back: moved, with no other path to drop', () => {
    const change = changeFromOutcome(
      'docs',
      {
        op: { kind: 'move', from: 'a.txt', to: 'a.txt', local: local('a.txt'), queued },
        status: 'done',
        fileId: 'file_a',
      },
      (p) => (p === 'a.txt' ? 'file_a' : undefined),
      NOW,
    );
    expect(change).toEqual({
      type: 'moved',
      folder: 'docs',
      path: 'a.txt',
      fileId: 'file_a',
      previousFileId: null,
      time: NOW.toISOString(),
    });
  });
});
