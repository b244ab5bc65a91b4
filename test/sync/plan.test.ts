import { describe, expect, it } from 'vitest';
import { moveSources, needsHash, planSync, type PlanInput, type PlanSkip } from '../../src/sync/plan.js';
import { countOps, opPaths, type SyncOp } from '../../src/sync/ops.js';
import { guardDeletes } from '../../src/sync/safety.js';
import { queuedRemoval } from '../helpers/entries.js';
import type { LocalEntry, ManifestEntry, PendingDelete, PendingUpload, RemoteFile } from '../../src/types.js';

const T0 = '2026-11-01T00:00:00.000Z';
const LISTED = new Date('2026-11-02T00:00:00.000Z');

function local(path: string, sha: string | undefined, over: Partial<LocalEntry> = {}): LocalEntry {
  const e: LocalEntry = { path, size: 10, mtimeMs: 1000, ino: 1, ...over };
  if (sha !== undefined) e.sha256 = sha;
  return e;
}
function entry(fileId: string, sha: string, over: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    fileId,
    sha256: sha,
    size: 10,
    mtimeMs: 1000,
    ino: 1,
    remoteName: 'x',
    mimeType: 'text/plain',
    uploadedAt: T0,
    ...over,
  };
}
function remoteFile(id: string, filename = 'x', over: Partial<RemoteFile> = {}): RemoteFile {
  return { id, filename, mimeType: 'text/plain', sizeBytes: 10, createdAt: T0, downloadable: false, ...over };
}
function input(parts: {
  local?: LocalEntry[];
  entries?: Record<string, ManifestEntry>;
  remote?: RemoteFile[];
  intents?: PendingUpload[];
  deletes?: PendingDelete[];
  extra?: Partial<PlanInput>;
}): PlanInput {
  const i: PlanInput = {
    local: new Map((parts.local ?? []).map((l) => [l.path, l])),
    manifest: {
      entries: new Map(Object.entries(parts.entries ?? {})),
      pendingUploads: parts.intents ?? [],
      pendingDeletes: parts.deletes ?? [],
    },
    // A server clock known exactly, unless a row says otherwise: adoption rows stay provable.
    clock: { lo: 0, hi: 0 },
    ...parts.extra,
  };
  if (parts.remote) i.remote = { files: new Map(parts.remote.map((f) => [f.id, f])), startedAt: LISTED };
  return i;
}
/**
 * One line per op naming everything the planner decided (kind, paths, file IDs, content hash),
 * so a row states the whole ordered plan; the local stat fields are the input's own.
 */
function show(op: SyncOp): string {
  switch (op.kind) {
    case 'upload':
    case 'refresh':
      return `${op.kind} ${op.path} ${op.local.sha256}`;
    case 'replace':
      return `replace ${op.path} ${op.local.sha256} old=${op.oldFileId}`;
    case 'reupload':
      return `reupload ${op.path} ${op.local.sha256} ${op.reason}=${op.oldFileId}`;
    case 'move':
      return `move ${op.from} -> ${op.to} ${op.local.sha256}${op.queued ? ` queued=${op.queued.fileId}` : ''}`;
    case 'delete':
    case 'forget':
    case 'discard':
      return `${op.kind} ${op.path} ${op.fileId}`;
    case 'adopt':
      return `adopt ${op.path} ${op.remote.id} ${op.local.sha256}${op.oldFileId ? ` old=${op.oldFileId}` : ''}`;
    case 'suspect':
      return `suspect ${op.path} ${op.remote.id}`;
    case 'settle':
      return `settle ${op.path} ${op.startedAt}`;
    case 'drop-intent':
      return `drop-intent ${op.path}`;
    case 'delete-done':
      return `delete-done ${op.fileId}`;
  }
}

const BIG = 600 * 1024 * 1024;

/** A table row: the input, and the whole expected plan (ops in order, skips exactly). */
interface PlanRow {
  name: string;
  in: PlanInput;
  ops: string[];
  skipped?: PlanSkip[];
  unchanged?: number;
  unmanaged?: number;
}

/** The same input with the entries' file IDs indexed (`hasFileId`), as a store's live view gives them. */
function indexed(i: PlanInput): PlanInput {
  const entries = i.manifest.entries;
  const ids = new Set([...entries.values()].map((e) => e.fileId));
  return {
    ...i,
    manifest: {
      ...i.manifest,
      entries: {
        get: (p) => entries.get(p),
        entries: () => entries.entries(),
        keys: () => entries.keys(),
        values: () => entries.values(),
        hasFileId: (id) => ids.has(id),
      },
    },
  };
}

/** Each row twice: entries as a plain map (the planner collects their IDs), and indexed. */
function testRows(rows: PlanRow[]): void {
  for (const row of rows) {
    for (const how of ['map', 'indexed'] as const) {
      it(`${row.name} (${how})`, () => {
        const plan = planSync(how === 'map' ? row.in : indexed(row.in));
        expect(plan.ops.map(show)).toEqual(row.ops);
        expect(plan.skipped).toEqual(row.skipped ?? []);
        if (row.unchanged !== undefined) expect(plan.unchanged).toBe(row.unchanged);
        if (row.unmanaged !== undefined) expect(plan.unmanagedRemote).toBe(row.unmanaged);
      });
    }
  }
}

/** An interrupted upload of a.txt (content h1), begun before the listing. */
const intent: PendingUpload = {
  path: 'a.txt',
  sha256: 'h1',
  size: 10,
  remoteName: 'a.txt',
  startedAt: '2026-11-01T12:00:00.000Z',
};

describe('planSync rules', () => {
  const table: PlanRow[] = [
    {
      name: 'new file -> upload',
      in: input({ local: [local('a.txt', 'h1')] }),
      ops: ['upload a.txt h1'],
    },
    {
      name: 'unchanged stat -> nothing, no hash needed',
      in: input({ local: [local('a.txt', undefined)], entries: { 'a.txt': entry('f1', 'h1') } }),
      ops: [],
      unchanged: 1,
    },
    {
      name: 'content changed -> replace with old id',
      in: input({
        local: [local('a.txt', 'h2', { mtimeMs: 2000 })],
        entries: { 'a.txt': entry('f1', 'h1') },
      }),
      ops: ['replace a.txt h2 old=f1'],
    },
    {
      name: 'stat changed, same hash -> refresh only',
      in: input({
        local: [local('a.txt', 'h1', { mtimeMs: 2000 })],
        entries: { 'a.txt': entry('f1', 'h1') },
      }),
      ops: ['refresh a.txt h1'],
    },
    {
      name: 'removed locally -> delete its id',
      in: input({ entries: { 'a.txt': entry('f1', 'h1') } }),
      ops: ['delete a.txt f1'],
    },
    {
      name: 'same content + basename at new path -> move, no upload',
      in: input({
        local: [local('new/a.txt', 'h1', { ino: 9 })],
        entries: { 'old/a.txt': entry('f1', 'h1') },
      }),
      ops: ['move old/a.txt -> new/a.txt h1'],
    },
    {
      name: 'same content, other basename -> upload + delete (remote filename must match)',
      in: input({ local: [local('b.txt', 'h1')], entries: { 'a.txt': entry('f1', 'h1') } }),
      ops: ['upload b.txt h1', 'delete a.txt f1'],
    },
    {
      name: 'moves and uploads come in path order, then deletes in path order',
      in: input({
        local: [local('z/new.txt', 'h9'), local('m/r.md', 'h1'), local('b/new.txt', 'h8')],
        entries: { 'y.txt': entry('f3', 'h3'), 'x/r.md': entry('f1', 'h1'), 'c.txt': entry('f2', 'h2') },
      }),
      ops: [
        'upload b/new.txt h8',
        'move x/r.md -> m/r.md h1',
        'upload z/new.txt h9',
        'delete c.txt f2',
        'delete y.txt f3',
      ],
    },
    {
      name: 'stat changed but not hashed -> skipped as needs-hash (never guessed)',
      in: input({
        local: [local('a.txt', undefined, { size: 11 })],
        entries: { 'a.txt': entry('f1', 'h1') },
      }),
      ops: [],
      skipped: [{ path: 'a.txt', reason: 'needs-hash' }],
    },
    {
      name: 'file over 500 MB -> skipped, old copy kept',
      in: input({
        local: [local('big.bin', 'h9', { size: BIG })],
        entries: { 'big.bin': entry('f1', 'h1') },
      }),
      ops: [],
      skipped: [{ path: 'big.bin', reason: 'too-large', detail: `${BIG} bytes` }],
    },
    {
      name: 'remote copy vanished, local unchanged -> reupload',
      in: input({ local: [local('a.txt', undefined)], entries: { 'a.txt': entry('f1', 'h1') }, remote: [] }),
      ops: ['reupload a.txt h1 vanished=f1'],
    },
    {
      name: 'remote copy vanished, content changed -> reupload of the new content',
      in: input({
        local: [local('a.txt', 'h2', { mtimeMs: 5 })],
        entries: { 'a.txt': entry('f1', 'h1') },
        remote: [],
      }),
      ops: ['reupload a.txt h2 vanished=f1'],
    },
    {
      name: 'remote copy vanished and local removed -> forget (no delete request)',
      in: input({ entries: { 'a.txt': entry('f1', 'h1') }, remote: [] }),
      ops: ['forget a.txt f1'],
    },
    {
      name: 'a vanished remote copy is never a move source -> upload + forget',
      in: input({
        local: [local('new/a.txt', 'h1')],
        entries: { 'old/a.txt': entry('f1', 'h1') },
        remote: [],
      }),
      ops: ['upload new/a.txt h1', 'forget old/a.txt f1'],
    },
    {
      name: 'entry uploaded after the listing began is not judged vanished',
      in: input({
        local: [local('a.txt', undefined)],
        entries: { 'a.txt': entry('f1', 'h1', { uploadedAt: '2026-11-03T00:00:00.000Z' }) },
        remote: [],
      }),
      ops: [],
      unchanged: 1,
    },
    {
      name: 'unreadable file is never deleted',
      in: input({ entries: { 'a.txt': entry('f1', 'h1') }, extra: { unreadable: new Set(['a.txt']) } }),
      ops: [],
    },
    {
      name: 'files under an unreadable directory are never deleted',
      in: input({
        entries: { 'd/a.txt': entry('f1', 'h1'), 'dx.txt': entry('f2', 'h2') },
        extra: { unreadableDirs: ['d'] },
      }),
      ops: ['delete dx.txt f2'],
    },
    {
      name: 'paths in flight are left alone',
      in: input({ local: [local('a.txt', 'h1')], extra: { inFlight: new Set(['a.txt']) } }),
      ops: [],
    },
    {
      name: 'scope limits the plan to the given paths',
      in: input({ local: [local('a.txt', 'h1'), local('b.txt', 'h2')], extra: { scope: ['b.txt'] } }),
      ops: ['upload b.txt h2'],
    },
    {
      name: 'scoped plan treats an absent in-scope path as removed',
      in: input({
        entries: { 'a.txt': entry('f1', 'h1'), 'b.txt': entry('f2', 'h2') },
        extra: { scope: ['a.txt'] },
      }),
      ops: ['delete a.txt f1'],
    },
    {
      name: 'remote copy expired (file_expired) -> reupload, reason expired, nothing deleted',
      in: input({
        local: [local('a.txt', undefined)],
        entries: { 'a.txt': entry('f1', 'h1') },
        remote: [],
        extra: { expiredIds: new Set(['f1']) },
      }),
      ops: ['reupload a.txt h1 expired=f1'],
    },
    {
      name: 'still listed but past its expires_at -> reupload as expired',
      in: input({
        local: [local('a.txt', undefined)],
        entries: { 'a.txt': entry('f1', 'h1') },
        remote: [remoteFile('f1', 'a.txt', { expiresAt: '2026-11-01T23:59:59.000Z' })],
      }),
      ops: ['reupload a.txt h1 expired=f1'],
    },
    {
      name: 'expires within the reconcile interval -> reupload as expiring (refresh folded in)',
      in: input({
        local: [local('a.txt', undefined), local('b.txt', 'h2', { mtimeMs: 7 })],
        entries: { 'a.txt': entry('f1', 'h1'), 'b.txt': entry('f2', 'h2') },
        remote: [
          remoteFile('f1', 'a.txt', { expiresAt: '2026-11-02T00:10:00.000Z' }),
          remoteFile('f2', 'b.txt', { expiresAt: '2026-11-02T00:14:00.000Z' }),
        ],
        extra: { expiryMarginMs: 15 * 60_000 },
      }),
      ops: ['reupload a.txt h1 expiring=f1', 'reupload b.txt h2 expiring=f2'],
    },
    {
      name: 'expires after the next reconciliation, or never -> unchanged',
      in: input({
        local: [local('a.txt', undefined), local('b.txt', undefined)],
        entries: { 'a.txt': entry('f1', 'h1'), 'b.txt': entry('f2', 'h2') },
        remote: [
          remoteFile('f1', 'a.txt', { expiresAt: '2026-11-02T00:16:00.000Z' }),
          remoteFile('f2', 'b.txt', { expiresAt: null }),
        ],
        extra: { expiryMarginMs: 15 * 60_000 },
      }),
      ops: [],
      unchanged: 2,
    },
    {
      name: 'the expiry margin runs from the plan, not from the listing that began before the scan',
      in: input({
        local: [local('a.txt', undefined)],
        entries: { 'a.txt': entry('f1', 'h1') },
        // Listed at 00:00, planned at 00:05: 00:16 falls within 15 min of the plan.
        remote: [remoteFile('f1', 'a.txt', { expiresAt: '2026-11-02T00:16:00.000Z' })],
        extra: { expiryMarginMs: 15 * 60_000, now: Date.parse('2026-11-02T00:05:00.000Z') },
      }),
      ops: ['reupload a.txt h1 expiring=f1'],
    },
    {
      name: 'expires_at is judged at the earliest local moment the server clock allows',
      in: input({
        local: [local('a.txt', undefined)],
        entries: { 'a.txt': entry('f1', 'h1') },
        // 20 min by the server's clock, which may run up to 10 min ahead of ours.
        remote: [remoteFile('f1', 'a.txt', { expiresAt: '2026-11-02T00:20:00.000Z' })],
        extra: { expiryMarginMs: 15 * 60_000, clock: { lo: 0, hi: 10 * 60_000 } },
      }),
      ops: ['reupload a.txt h1 expiring=f1'],
    },
    {
      name: 'new content over an expiring copy is a replace; over an expired one a reupload',
      in: input({
        local: [local('a.txt', 'h9', { mtimeMs: 5 }), local('b.txt', 'h8', { mtimeMs: 5 })],
        entries: { 'a.txt': entry('f1', 'h1'), 'b.txt': entry('f2', 'h2') },
        remote: [remoteFile('f1', 'a.txt', { expiresAt: '2026-11-02T00:10:00.000Z' })],
        extra: { expiryMarginMs: 15 * 60_000, expiredIds: new Set(['f2']) },
      }),
      ops: ['replace a.txt h9 old=f1', 'reupload b.txt h8 expired=f2'],
    },
    {
      name: 'an expiring copy is no move source; an expired one is forgotten, an expiring one deleted',
      in: input({
        local: [local('new/a.txt', 'h1')],
        entries: { 'old/a.txt': entry('f1', 'h1'), 'gone.txt': entry('f2', 'h2') },
        remote: [remoteFile('f1', 'a.txt', { expiresAt: '2026-11-02T00:10:00.000Z' })],
        extra: { expiryMarginMs: 15 * 60_000, expiredIds: new Set(['f2']) },
      }),
      ops: ['upload new/a.txt h1', 'forget gone.txt f2', 'delete old/a.txt f1'],
    },
    {
      name: 'several moves of identical content pair deterministically (by path order)',
      in: input({
        local: [local('y/r.md', 'h'), local('x/r.md', 'h')],
        entries: { 'a/r.md': entry('f1', 'h'), 'b/r.md': entry('f2', 'h') },
      }),
      ops: ['move a/r.md -> x/r.md h', 'move b/r.md -> y/r.md h'],
    },
  ];
  testRows(table);

  it('an op carries the local entry it was planned from', () => {
    const a = local('a.txt', 'h1');
    expect(planSync(input({ local: [a] })).ops).toEqual([{ kind: 'upload', path: 'a.txt', local: a }]);
  });

  it('reports every skip, tracked paths before new local paths', () => {
    const plan = planSync(
      input({
        local: [local('big.bin', 'h', { size: BIG }), local('a.txt', undefined, { size: 3 })],
        entries: { 'a.txt': entry('f1', 'h1') },
      }),
    );
    expect(plan.skipped).toEqual([
      { path: 'a.txt', reason: 'needs-hash' },
      { path: 'big.bin', reason: 'too-large', detail: `${BIG} bytes` },
    ]);
  });

  for (const how of ['map', 'indexed'] as const)
    it(`counts remote files it does not manage and never plans anything for them (${how})`, () => {
      const given = input({
        local: [local('a.txt', undefined)],
        entries: { 'a.txt': entry('f1', 'h1') },
        remote: [remoteFile('f1'), remoteFile('other1'), remoteFile('other2', 'a.txt')],
      });
      const plan = planSync(how === 'map' ? given : indexed(given));
      expect(plan.ops).toEqual([]);
      expect(plan.unmanagedRemote).toBe(2);
    });

  it('counts ops by kind', () => {
    const plan = planSync(
      input({
        local: [local('x/r.md', 'h'), local('y/r.md', 'h'), local('n.txt', 'h3')],
        entries: { 'a/r.md': entry('f1', 'h'), 'b/r.md': entry('f2', 'h') },
      }),
    );
    expect(countOps(plan.ops)).toMatchObject({ move: 2, upload: 1, delete: 0 });
  });
});

describe('Plan.ops order per path is execution order', () => {
  const created = remoteFile('f9', 'a.txt', { createdAt: '2026-11-01T12:00:01.000Z' });

  /** The ops of each path, in plan order (a move counts for both its paths). */
  function perPath(ops: SyncOp[]): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const op of ops) for (const p of opPaths(op)) (out[p] ??= []).push(op.kind);
    return out;
  }

  it('resolves an old intent (drop it, discard its file) before uploading the path again', () => {
    const plan = planSync(
      input({
        local: [local('a.txt', 'h2')],
        intents: [intent],
        remote: [created, remoteFile('f1', 'a.txt')],
      }),
    );
    expect(perPath(plan.ops)).toEqual({ 'a.txt': ['drop-intent', 'discard', 'upload'] });
  });

  it('resolves intents before replacing; a move is one op on both its paths', () => {
    const plan = planSync(
      input({
        local: [local('a.txt', 'h2', { mtimeMs: 5 }), local('b/r.md', 'h4')],
        entries: { 'a.txt': entry('f1', 'h1'), 'r.md': entry('f4', 'h4') },
        intents: [intent],
        remote: [created, remoteFile('f1', 'a.txt'), remoteFile('f4', 'r.md')],
      }),
    );
    expect(perPath(plan.ops)).toEqual({
      'a.txt': ['drop-intent', 'discard', 'replace'],
      'b/r.md': ['move'],
      'r.md': ['move'],
    });
  });
});

describe('pending upload intents (crash recovery)', () => {
  const created = (id: string, at = '2026-11-01T12:00:01.000Z') => remoteFile(id, 'a.txt', { createdAt: at });
  const rows: PlanRow[] = [
    {
      name: 'adopts the remote file an interrupted upload created instead of uploading again',
      in: input({ local: [local('a.txt', 'h1')], intents: [intent], remote: [created('f9')] }),
      ops: ['adopt a.txt f9 h1'],
      unmanaged: 0,
    },
    {
      name: 'two possible files: adopts neither, keeps both as suspects and uploads again (shared workspace)',
      in: input({
        local: [local('a.txt', 'h1')],
        intents: [intent],
        remote: [created('f8', '2026-11-01T12:00:05.000Z'), created('f7')],
      }),
      ops: ['drop-intent a.txt', 'suspect a.txt f7', 'suspect a.txt f8', 'upload a.txt h1'],
    },
    {
      name: 'two possible files in an exclusive workspace: both discarded, uploaded again',
      in: input({
        local: [local('a.txt', 'h1')],
        intents: [intent],
        remote: [created('f8', '2026-11-01T12:00:05.000Z'), created('f7')],
        extra: { exclusive: true },
      }),
      ops: ['drop-intent a.txt', 'discard a.txt f7', 'discard a.txt f8', 'upload a.txt h1'],
    },
    {
      name: 'one file created inside the clock uncertainty: a suspect, not adopted',
      in: input({
        local: [local('a.txt', 'h1')],
        intents: [intent],
        remote: [created('f7', '2026-11-01T12:00:00.200Z')],
        extra: { clock: { lo: -500, hi: 500 } },
      }),
      ops: ['drop-intent a.txt', 'suspect a.txt f7', 'upload a.txt h1'],
    },
    {
      name: 'no server clock estimate: nothing is provable, so nothing is adopted',
      in: input({
        local: [local('a.txt', 'h1')],
        intents: [intent],
        remote: [created('f7')],
        extra: { clock: undefined },
      }),
      ops: ['drop-intent a.txt', 'suspect a.txt f7', 'upload a.txt h1'],
    },
    {
      name: 'drops an intent that left nothing behind and uploads normally',
      in: input({ local: [local('a.txt', 'h1')], intents: [intent], remote: [] }),
      ops: ['drop-intent a.txt', 'upload a.txt h1'],
    },
    {
      name: 'discards what the intent created when the file changed since, and uploads the new content',
      in: input({ local: [local('a.txt', 'h2')], intents: [intent], remote: [created('f9')] }),
      ops: ['drop-intent a.txt', 'discard a.txt f9', 'upload a.txt h2'],
    },
    {
      name: 'discards what the intent created when the file is gone',
      in: input({ intents: [intent], remote: [created('f9')] }),
      ops: ['drop-intent a.txt', 'discard a.txt f9'],
    },
    {
      name: 'ignores remote files with the same name created long before the intent (not ours)',
      in: input({
        local: [local('a.txt', 'h1')],
        intents: [intent],
        remote: [created('old', '2026-10-01T00:00:00.000Z')],
      }),
      ops: ['drop-intent a.txt', 'upload a.txt h1'],
      unmanaged: 1,
    },
    {
      name: 'never claims a file another entry already owns',
      in: input({
        local: [local('a.txt', 'h1'), local('b/a.txt', undefined)],
        entries: { 'b/a.txt': entry('f9', 'h1') },
        intents: [intent],
        remote: [created('f9')],
      }),
      ops: ['drop-intent a.txt', 'upload a.txt h1'],
    },
    {
      name: 'never adopts or discards a file another folder of this daemon owns',
      in: {
        ...input({ local: [local('a.txt', 'h1')], intents: [intent], remote: [created('f9')] }),
        foreignIds: new Set(['f9']),
      },
      ops: ['drop-intent a.txt', 'upload a.txt h1'],
      unmanaged: 0,
    },
    {
      name: 'adopting a replacement queues the old id for delete',
      in: input({
        local: [local('a.txt', 'h1', { mtimeMs: 5 })],
        entries: { 'a.txt': entry('f1', 'h0', { remoteName: 'a.txt' }) },
        intents: [intent],
        remote: [remoteFile('f1', 'a.txt'), created('f9')],
      }),
      ops: ['adopt a.txt f9 h1 old=f1'],
    },
    {
      name: 'without a listing, a path with an intent is deferred, never uploaded twice',
      in: input({ local: [local('a.txt', 'h1')], intents: [intent] }),
      ops: [],
      skipped: [{ path: 'a.txt', reason: 'pending-intent' }],
    },
    {
      name: 'leaves an intent that began after the listing alone (its upload may be in flight)',
      in: input({
        local: [local('a.txt', 'h1')],
        intents: [{ ...intent, startedAt: '2026-11-03T00:00:00.000Z' }],
        remote: [],
      }),
      ops: [],
      skipped: [{ path: 'a.txt', reason: 'pending-intent' }],
    },
  ];
  testRows(rows);

  it('marks pending deletes whose file is already gone as done', () => {
    const i = input({ remote: [] });
    const plan = planSync({
      ...i,
      manifest: {
        ...i.manifest,
        pendingDeletes: [{ fileId: 'f5', path: 'z', reason: 'removed', queuedAt: T0 }],
      },
    });
    expect(plan.ops).toEqual([{ kind: 'delete-done', fileId: 'f5' }]);
  });
});

describe('a removal queued by an earlier pass is taken back by a move', () => {
  /** The plan's clock: 30 s after the removals below were queued with the default minute of retention. */
  const NOW = Date.parse('2026-11-01T00:00:30.000Z');
  const queued = (fileId: string, path: string, over: Partial<PendingDelete> = {}): PendingDelete =>
    queuedRemoval(fileId, path, new Date(T0), { sha256: 'h1', ...over });
  const now = { now: NOW };
  const rows: PlanRow[] = [
    {
      name: 'same content and basename at a new path -> move with the queued ID',
      in: input({ local: [local('new/a.txt', 'h1')], deletes: [queued('f1', 'old/a.txt')], extra: now }),
      ops: ['move old/a.txt -> new/a.txt h1 queued=f1'],
    },
    {
      name: 'the same path made again takes its own ID back',
      in: input({ local: [local('a.txt', 'h1')], deletes: [queued('f1', 'a.txt')], extra: now }),
      ops: ['move a.txt -> a.txt h1 queued=f1'],
    },
    {
      name: 'a removal of this plan pairs first; the queued one stays queued',
      in: input({
        local: [local('new/a.txt', 'h1')],
        entries: { 'old2/a.txt': entry('f2', 'h1') },
        deletes: [queued('f1', 'old/a.txt')],
        extra: { ...now, scope: ['new/a.txt', 'old2/a.txt'] },
      }),
      ops: ['move old2/a.txt -> new/a.txt h1'],
    },
    {
      name: 'two additions, two queued removals of one key: paired in path order and queue order',
      in: input({
        local: [local('y/a.txt', 'h1'), local('x/a.txt', 'h1'), local('z/a.txt', 'h1')],
        deletes: [queued('f1', 'old/a.txt'), queued('f2', 'older/a.txt')],
        extra: now,
      }),
      ops: [
        'move old/a.txt -> x/a.txt h1 queued=f1',
        'move older/a.txt -> y/a.txt h1 queued=f2',
        'upload z/a.txt h1',
      ],
    },
    {
      name: 'no take-back once the retention has passed: its delete may have been sent',
      in: input({
        local: [local('new/a.txt', 'h1')],
        deletes: [queued('f1', 'old/a.txt', { notBefore: '2026-11-01T00:00:30.000Z' })],
        extra: now,
      }),
      ops: ['upload new/a.txt h1'],
    },
    {
      name: 'no take-back without retention or hash, for another reason than "removed", or of an expiring copy',
      in: input({
        local: [
          local('a/a.txt', 'h1'),
          local('b/a.txt', 'h1'),
          local('c/a.txt', 'h1'),
          local('d/a.txt', 'h1'),
          local('e/a.txt', 'h1'),
        ],
        deletes: [
          queued('f1', 'old/a.txt', { notBefore: undefined }),
          queued('f2', 'old/a.txt', { sha256: undefined }),
          queued('f3', 'old/a.txt', { reason: 'replaced' }),
          queued('f4', 'old/a.txt', { reason: 'stray' }),
          // Its copy expires before the next reconciliation is due.
          queued('f5', 'old/a.txt', { expiresAt: '2026-11-01T00:10:00.000Z' }),
        ],
        extra: { ...now, expiryMarginMs: 3_600_000 },
      }),
      ops: [
        'upload a/a.txt h1',
        'upload b/a.txt h1',
        'upload c/a.txt h1',
        'upload d/a.txt h1',
        'upload e/a.txt h1',
      ],
    },
    {
      name: 'no take-back with another basename or other content',
      in: input({
        local: [local('d/b.txt', 'h1'), local('e/a.txt', 'h2')],
        deletes: [queued('f1', 'old/a.txt')],
        extra: now,
      }),
      ops: ['upload d/b.txt h1', 'upload e/a.txt h2'],
    },
    {
      name: 'without the plan clock nothing is taken back',
      in: input({ local: [local('new/a.txt', 'h1')], deletes: [queued('f1', 'old/a.txt')] }),
      ops: ['upload new/a.txt h1'],
    },
    {
      name: 'with a listing: a queued copy listed is taken back, one missing from it is done and not',
      in: input({
        local: [local('new/a.txt', 'h1'), local('new/b.txt', 'h2')],
        deletes: [queued('f1', 'old/a.txt'), queued('f2', 'old/b.txt', { sha256: 'h2' })],
        remote: [remoteFile('f1', 'a.txt')],
        extra: now,
      }),
      ops: ['delete-done f2', 'move old/a.txt -> new/a.txt h1 queued=f1', 'upload new/b.txt h2'],
    },
  ];
  testRows(rows);
});

describe('needsHash', () => {
  it('hashes new files and stat changes only', () => {
    expect(needsHash(local('a', undefined), undefined)).toBe(true);
    expect(needsHash(local('a', undefined), entry('f', 'h'))).toBe(false);
    expect(needsHash(local('a', undefined, { mtimeMs: 3 }), entry('f', 'h'))).toBe(true);
    expect(needsHash(local('a', undefined, { ino: 3 }), entry('f', 'h'))).toBe(true);
    expect(needsHash(local('a', undefined, { size: 600 * 1024 * 1024 }), undefined)).toBe(false);
  });
});

describe('guardDeletes', () => {
  const del = (n: number): SyncOp[] =>
    Array.from({ length: n }, (_, i) => ({ kind: 'delete', path: `p${i}`, fileId: `f${i}` }));
  const up: SyncOp = {
    kind: 'upload',
    path: 'u',
    local: { path: 'u', size: 1, mtimeMs: 1, ino: 1, sha256: 'h' },
  };
  const limits = { maxDeletes: 100, maxDeletePercent: 25 };
  const rows: Array<{
    name: string;
    ops: SyncOp[];
    tracked: number;
    localCount?: number;
    allow?: boolean;
    held: number;
    reason?: RegExp;
  }> = [
    { name: 'a few deletes pass', ops: del(3), tracked: 5, localCount: 2, held: 0 },
    {
      name: 'emptied folder holds every delete',
      ops: del(3),
      tracked: 3,
      localCount: 0,
      held: 3,
      reason: /folder is empty/,
    },
    {
      name: 'over maxDeletes holds',
      ops: del(101),
      tracked: 10_000,
      localCount: 9_899,
      held: 101,
      reason: /maxDeletes \(100\)/,
    },
    {
      name: 'over maxDeletePercent holds',
      ops: del(30),
      tracked: 100,
      localCount: 70,
      held: 30,
      reason: /30\.0% of 100/,
    },
    { name: 'percent rule ignores tiny counts', ops: del(9), tracked: 12, localCount: 3, held: 0 },
    {
      name: '--allow-mass-delete releases',
      ops: del(101),
      tracked: 101,
      localCount: 0,
      allow: true,
      held: 0,
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const v = guardDeletes({
        ops: [...r.ops, up],
        trackedCount: r.tracked,
        ...(r.localCount !== undefined ? { localCount: r.localCount } : {}),
        limits,
        allowMassDelete: r.allow ?? false,
      });
      expect(v.held).toHaveLength(r.held);
      expect(v.allowed).toContainEqual(up);
      expect(v.allowed.length + v.held.length).toBe(r.ops.length + 1);
      if (r.reason) expect(v.reason).toMatch(r.reason);
      if (r.held > 0) expect(v.reason).toMatch(/--allow-mass-delete/);
    });
  }
});

describe('moveSources', () => {
  it('names tracked paths outside the scope with the content and basename of a new path', () => {
    const manifest: Array<[string, ManifestEntry]> = [
      ['old/a.txt', entry('f1', 'h1')],
      ['old/b.txt', entry('f2', 'h1')], // other basename: a move would need an upload anyway
      ['in-scope/a.txt', entry('f3', 'h1')],
      ['c.txt', entry('f4', 'h2')],
    ];
    const tracked = new Set(manifest.map(([p]) => p));
    const out = moveSources(
      new Map([
        ['new/a.txt', local('new/a.txt', 'h1')],
        ['c.txt', local('c.txt', 'h3')],
      ]),
      manifest,
      new Set(['new/a.txt', 'c.txt', 'in-scope/a.txt']),
      (p) => tracked.has(p),
    );
    expect(out).toEqual(['old/a.txt']);
  });

  it('looks for nothing when no new path was hashed', () => {
    expect(
      moveSources(
        new Map([['a.txt', local('a.txt', undefined)]]),
        [['b/a.txt', entry('f1', 'h1')]],
        new Set(['a.txt']),
        () => false,
      ),
    ).toEqual([]);
  });
});
