/** The change consumers see for a move: from a tracked path, and from the delete queue (a take-back). */
import { describe, expect, it } from 'vitest';
import { changeFromOutcome } from '../../src/serve/change-events.js';
import { queuedRemoval } from '../helpers/entries.js';

const NOW = new Date('2026-12-01T00:00:00.000Z');
const local = (path: string) => ({ path, size: 1, mtimeMs: 1, ino: 1, sha256: 'h' });
const queued = queuedRemoval('file_a', 'a.txt', NOW, { sha256: 'h' });

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

  it.each([
    ['another path', 'new/a.txt'],
    ['its own path', 'a.txt'],
  ])(
    'a move from the delete queue to %s names no old path: it was announced deleted, and may hold another file',
    (_what, to) => {
      const change = changeFromOutcome(
        'docs',
        {
          op: { kind: 'move', from: 'a.txt', to, local: local(to), queued },
          status: 'done',
          fileId: 'file_a',
        },
        (p) => (p === to ? 'file_a' : 'file_other'),
        NOW,
      );
      expect(change).toEqual({
        type: 'moved',
        folder: 'docs',
        path: to,
        fileId: 'file_a',
        previousFileId: null,
        time: NOW.toISOString(),
      });
    },
  );
});
