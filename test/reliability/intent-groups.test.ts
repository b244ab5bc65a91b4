/**
 * Crash recovery when several interrupted uploads share a remote name and size (dir1/index.md,
 * dir2/index.md): the API keeps no path or hash, so the remote files cannot be told apart and
 * handing them out by creation time can give a path another path's content. Nor can a group prove
 * that none of its candidates is another client's: a group adopts nothing. Pure planner tests, in a
 * workspace declared exclusive (unproven candidates are discarded) with an exact server clock.
 */
import { describe, expect, it } from 'vitest';
import { planSync, type PlanInput } from '../../src/sync/plan.js';
import type { SyncOp } from '../../src/sync/ops.js';
import type { LocalEntry, PendingUpload, RemoteFile } from '../../src/types.js';

const STARTED = '2026-11-01T12:00:00.000Z';
const LISTED = new Date('2026-11-02T00:00:00.000Z');

const local = (path: string, sha256: string): LocalEntry & { sha256: string } => ({
  path,
  size: 10,
  mtimeMs: 1,
  ino: 1,
  sha256,
});
const intent = (path: string, sha256: string): PendingUpload => ({
  path,
  sha256,
  size: 10,
  remoteName: 'index.md',
  startedAt: STARTED,
});
const created = (id: string, at: string): RemoteFile => ({
  id,
  filename: 'index.md',
  mimeType: 'text/markdown',
  sizeBytes: 10,
  createdAt: at,
  downloadable: false,
});

function plan(locals: LocalEntry[], intents: PendingUpload[], remote: RemoteFile[], inFlight: string[] = []) {
  const input: PlanInput = {
    local: new Map(locals.map((l) => [l.path, l])),
    manifest: { entries: new Map(), pendingUploads: intents, pendingDeletes: [] },
    remote: { files: new Map(remote.map((f) => [f.id, f])), startedAt: LISTED },
    inFlight: new Set(inFlight),
    clock: { lo: 0, hi: 0 },
    exclusive: true,
  };
  return planSync(input);
}
const byKind = (ops: SyncOp[], kind: SyncOp['kind']) => ops.filter((o) => o.kind === kind);

describe('intents that share a remote name and size', () => {
  it('with different contents: adopts none, discards every candidate, uploads each path again', () => {
    // b's upload happened to finish first: by creation time a would get b's content.
    const p = plan(
      [local('a/index.md', 'ha'), local('b/index.md', 'hb')],
      [intent('a/index.md', 'ha'), intent('b/index.md', 'hb')],
      [created('fb', '2026-11-01T12:00:01.000Z'), created('fa', '2026-11-01T12:00:02.000Z')],
    );
    expect(byKind(p.ops, 'adopt')).toEqual([]);
    expect(
      byKind(p.ops, 'discard')
        .map((o) => (o as { fileId: string }).fileId)
        .sort(),
    ).toEqual(['fa', 'fb']);
    expect(byKind(p.ops, 'drop-intent')).toHaveLength(2);
    expect(
      byKind(p.ops, 'upload')
        .map((o) => (o as { path: string }).path)
        .sort(),
    ).toEqual(['a/index.md', 'b/index.md']);
  });

  it("with the same content: adopts none either (one of the two may be another client's), uploads both again", () => {
    const p = plan(
      [local('a/index.md', 'same'), local('b/index.md', 'same')],
      [intent('a/index.md', 'same'), intent('b/index.md', 'same')],
      [created('f1', '2026-11-01T12:00:01.000Z'), created('f2', '2026-11-01T12:00:02.000Z')],
    );
    expect(byKind(p.ops, 'adopt')).toEqual([]);
    expect(
      byKind(p.ops, 'discard')
        .map((o) => (o as { fileId: string }).fileId)
        .sort(),
    ).toEqual(['f1', 'f2']);
    expect(byKind(p.ops, 'upload')).toHaveLength(2);
  });

  it('a single intent still adopts its file', () => {
    const p = plan(
      [local('a/index.md', 'ha')],
      [intent('a/index.md', 'ha')],
      [created('fa', '2026-11-01T12:00:02.000Z')],
    );
    expect(byKind(p.ops, 'adopt')).toHaveLength(1);
  });

  it('is left pending while an upload of the same name and size is in flight (its file may be listed already)', () => {
    const p = plan(
      [local('a/index.md', 'ha'), local('b/index.md', 'hb')],
      [intent('a/index.md', 'ha'), intent('b/index.md', 'hb')],
      [created('fb', '2026-11-01T12:00:01.000Z')],
      ['b/index.md'],
    );
    expect(byKind(p.ops, 'discard')).toEqual([]);
    expect(byKind(p.ops, 'adopt')).toEqual([]);
    expect(p.skipped).toEqual([expect.objectContaining({ path: 'a/index.md', reason: 'pending-intent' })]);
  });
});
