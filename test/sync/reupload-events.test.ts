/** What consumers see of a reupload: `uploaded` after a vanished copy, one `expired` event after an expiry. */
import { describe, expect, it } from 'vitest';
import { changeFromOutcome } from '../../src/serve/change-events.js';
import type { ReuploadReason } from '../../src/sync/ops.js';

const NOW = new Date('2026-12-01T00:00:00.000Z');

function reuploaded(reason: ReuploadReason) {
  const local = { path: 'a.txt', size: 1, mtimeMs: 1, ino: 1, sha256: 'h' };
  return changeFromOutcome(
    'docs',
    {
      op: { kind: 'reupload', path: 'a.txt', local, oldFileId: 'file_old', reason },
      status: 'done',
      fileId: 'file_new',
    },
    () => undefined,
    NOW,
  );
}

describe('changeFromOutcome for reuploads', () => {
  it('a vanished copy: uploaded, naming the ID it took over from', () => {
    expect(reuploaded('vanished')).toEqual({
      type: 'uploaded',
      folder: 'docs',
      path: 'a.txt',
      fileId: 'file_new',
      previousFileId: 'file_old',
      time: NOW.toISOString(),
    });
  });

  it.each(['expired', 'expiring'] as const)(
    'an %s copy: one expired event with both IDs and the reason',
    (reason) => {
      expect(reuploaded(reason)).toEqual({
        type: 'expired',
        folder: 'docs',
        path: 'a.txt',
        fileId: 'file_new',
        previousFileId: 'file_old',
        reason,
        time: NOW.toISOString(),
      });
    },
  );
});
