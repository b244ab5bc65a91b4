/**
 * Executor unit tests: its decisions with a scripted client and an in-memory manifest (the real
 * client is tested over HTTP elsewhere). Files are real, so the post-upload stat check is real.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Executor,
  type ExecutorClient,
  type ExecutorManifest,
  type ExecutorOptions,
} from '../../src/sync/execute.js';
import type { HashedEntry, SyncOp } from '../../src/sync/ops.js';
import {
  AuthenticationError,
  BadRequestError,
  SourceChangedError,
  UploadOutcomeUnknownError,
} from '../../src/api/errors.js';
import { queuedRemoval } from '../helpers/entries.js';
import type {
  ManifestEntry,
  PendingDelete,
  PendingUpload,
  RemoteFile,
  Suspect,
  UnsettledAttempt,
} from '../../src/types.js';

const NOW = new Date('2026-11-05T00:00:00.000Z');
const logger = pino({ level: 'silent' });

/** An in-memory manifest that logs every durable step, so tests can see what was on disk when. */
class FakeManifest implements ExecutorManifest {
  readonly entries = new Map<string, ManifestEntry>();
  readonly uploads = new Map<string, PendingUpload>();
  readonly deletes = new Map<string, PendingDelete>();
  readonly log: string[] = [];
  /** Intents as last flushed (what a crash would leave behind). */
  flushedUploads: PendingUpload[] = [];

  get(p: string) {
    return this.entries.get(p);
  }
  set(p: string, e: ManifestEntry) {
    this.entries.set(p, e);
    this.log.push(`set ${p} ${e.fileId}`);
  }
  remove(p: string) {
    this.entries.delete(p);
    this.log.push(`remove ${p}`);
  }
  rename(from: string, to: string) {
    const before = this.entries.get(to);
    const e = this.entries.get(from);
    if (e) this.entries.set(to, e);
    this.entries.delete(from);
    return before;
  }
  findByFileId(id: string) {
    for (const [p, e] of this.entries) if (e.fileId === id) return p;
    return undefined;
  }
  pendingUploads() {
    return [...this.uploads.values()];
  }
  addPendingUpload(u: PendingUpload) {
    this.uploads.set(u.path, u);
    this.log.push(`intent ${u.path} ${u.sha256}`);
  }
  removePendingUpload(p: string) {
    if (this.uploads.delete(p)) this.log.push(`drop-intent ${p}`);
  }
  pendingDeletes() {
    return [...this.deletes.values()];
  }
  pendingDelete(id: string) {
    return this.deletes.get(id);
  }
  addPendingDelete(d: PendingDelete) {
    this.deletes.set(d.fileId, d);
    this.log.push(`pending-delete ${d.fileId}`);
  }
  removePendingDelete(id: string) {
    if (this.deletes.delete(id)) this.log.push(`unqueue ${id}`);
  }
  readonly suspectMap = new Map<string, Suspect>();
  readonly unsettledMap = new Map<string, UnsettledAttempt>();
  suspects() {
    return [...this.suspectMap.values()];
  }
  suspect(id: string) {
    return this.suspectMap.get(id);
  }
  addSuspect(x: Suspect) {
    this.suspectMap.set(x.fileId, x);
    this.log.push(`suspect ${x.fileId}`);
  }
  removeSuspect(id: string) {
    this.suspectMap.delete(id);
  }
  unsettled() {
    return [...this.unsettledMap.values()];
  }
  addUnsettled(a: UnsettledAttempt) {
    this.unsettledMap.set(`${a.startedAt} ${a.path}`, a);
    this.log.push(`unsettled ${a.path}`);
  }
  removeUnsettled(a: Pick<UnsettledAttempt, 'path' | 'startedAt'>) {
    this.unsettledMap.delete(`${a.startedAt} ${a.path}`);
  }
  get size() {
    return this.entries.size;
  }
  async flush() {
    this.flushedUploads = this.pendingUploads();
    this.log.push('flush');
  }
}

type UploadScript = (source: string, filename: string) => Promise<RemoteFile>;

/** A client whose uploads run `script`; every call is logged. */
class FakeClient implements ExecutorClient {
  readonly log: string[] = [];
  private n = 0;
  script: UploadScript = async (_source, filename) => this.created(filename);
  deleteError: Error | undefined;

  created(filename: string): RemoteFile {
    this.n++;
    return {
      id: `file_${this.n}`,
      filename,
      mimeType: 'text/plain',
      sizeBytes: 1,
      createdAt: NOW.toISOString(),
      downloadable: false,
    };
  }
  async upload(source: string, opts: { filename: string }) {
    this.log.push(`upload ${path.basename(source)}`);
    return this.script(source, opts.filename);
  }
  async delete(id: string) {
    this.log.push(`delete ${id}`);
    if (this.deleteError) throw this.deleteError;
    return { id, alreadyGone: false };
  }
}

let root: string;
let manifest: FakeManifest;
let client: FakeClient;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'files-sync-exec-'));
  manifest = new FakeManifest();
  client = new FakeClient();
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function executor(concurrency = 4, over: Partial<ExecutorOptions> = {}): Executor {
  return new Executor({ root, client, manifest, concurrency, logger, now: () => NOW, ...over });
}

/** Writes a real file and returns its entry as the planner would see it (hashed as `sha256`). */
async function file(rel: string, text: string, sha256 = `h-${rel}`): Promise<HashedEntry> {
  await fs.writeFile(path.join(root, rel), text);
  const st = await fs.lstat(path.join(root, rel));
  return { path: rel, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 };
}

function entry(fileId: string, sha256: string): ManifestEntry {
  return {
    fileId,
    sha256,
    size: 1,
    mtimeMs: 1,
    ino: 1,
    remoteName: 'x',
    mimeType: 'text/plain',
    uploadedAt: NOW.toISOString(),
  };
}

/** A promise with its resolver, to hold an upload open. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('Executor: upload intents', () => {
  it('has each intent flushed before its own upload is sent, and none left after', async () => {
    const ops: SyncOp[] = [
      { kind: 'upload', path: 'a.txt', local: await file('a.txt', 'a') },
      { kind: 'upload', path: 'b.txt', local: await file('b.txt', 'b') },
    ];
    const durableAtSend: string[] = [];
    client.script = async (_s, filename) => {
      if (manifest.flushedUploads.some((u) => u.path === filename)) durableAtSend.push(filename);
      return client.created(filename);
    };
    await executor().run(ops);
    expect(durableAtSend.sort()).toEqual(['a.txt', 'b.txt']);
    expect(manifest.log.indexOf('intent a.txt h-a.txt')).toBeLessThan(
      manifest.log.indexOf('set a.txt file_1'),
    );
    expect(manifest.uploads.size).toBe(0);
  });

  it('defers the new intent of a path whose old intent this batch resolves, so the old one is never overwritten first', async () => {
    const old: PendingUpload = {
      path: 'a.txt',
      sha256: 'h-old',
      size: 1,
      remoteName: 'a.txt',
      startedAt: '2026-11-01T00:00:00.000Z',
    };
    manifest.uploads.set('a.txt', old);
    const ops: SyncOp[] = [
      { kind: 'drop-intent', path: 'a.txt' },
      { kind: 'discard', path: 'a.txt', fileId: 'stray_1' },
      { kind: 'upload', path: 'a.txt', local: await file('a.txt', 'new', 'h-new') },
    ];
    let intentAtUpload: PendingUpload | undefined;
    client.script = async (_s, filename) => {
      intentAtUpload = manifest.flushedUploads.find((u) => u.path === 'a.txt');
      return client.created(filename);
    };
    const ex = executor();
    const result = await ex.run(ops);
    expect(result.outcomes.map((o) => o.status)).toEqual(['done', 'done', 'done']);
    // The stray copy's pending delete is recorded (and flushed) before the old intent is dropped.
    expect(manifest.log.slice(0, 3)).toEqual(['pending-delete stray_1', 'flush', 'drop-intent a.txt']);
    // The new intent was written and flushed just before its upload, not at batch start.
    expect(intentAtUpload?.sha256).toBe('h-new');
    // Deletes leave only through the queue's drain.
    expect(client.log).toEqual(['upload a.txt']);
    await ex.drainPendingDeletes();
    expect(client.log).toEqual(['upload a.txt', 'delete stray_1']);
    expect(manifest.get('a.txt')?.fileId).toBe('file_1');
  });
});

describe('Executor: ordering', () => {
  it('runs ops on one path one after another, in the given order', async () => {
    const local = await file('a.txt', 'a');
    const held = gate();
    client.script = async (_s, filename) => {
      await held.wait;
      return client.created(filename);
    };
    manifest.entries.set('a.txt', entry('file_old', 'h0'));
    const events: string[] = [];
    const ex = new Executor({
      root,
      client,
      manifest,
      concurrency: 4,
      logger,
      now: () => NOW,
      onEvent: (e) => events.push(`${e.type} ${e.op.kind}`),
    });
    const run = ex.run([
      { kind: 'replace', path: 'a.txt', local, oldFileId: 'file_old' },
      { kind: 'refresh', path: 'a.txt', local },
    ]);
    await expect.poll(() => client.log).toEqual(['upload a.txt']);
    expect(events).toEqual(['op-start replace']);
    expect(ex.inFlight()).toEqual(new Set(['a.txt']));
    held.open();
    await run;
    expect(events).toEqual(['op-start replace', 'op-end replace', 'op-start refresh', 'op-end refresh']);
    // The old ID is only queued by the replace; the drain flushes the new ID first, then sends it.
    expect(client.log).toEqual(['upload a.txt']);
    manifest.log.length = 0;
    await ex.drainPendingDeletes();
    expect(manifest.log[0]).toBe('flush');
    expect(client.log).toEqual(['upload a.txt', 'delete file_old']);
    expect(ex.inFlightCount()).toBe(0);
  });

  it('runs ops on different paths side by side', async () => {
    const held = gate();
    client.script = async (_s, filename) => {
      await held.wait;
      return client.created(filename);
    };
    const run = executor(2).run([
      { kind: 'upload', path: 'a.txt', local: await file('a.txt', 'a') },
      { kind: 'upload', path: 'b.txt', local: await file('b.txt', 'b') },
    ]);
    await expect.poll(() => client.log.length).toBe(2);
    held.open();
    expect((await run).outcomes.map((o) => o.status)).toEqual(['done', 'done']);
  });
});

describe('Executor: outcomes', () => {
  it('stops after a 401: later ops are not attempted and carry the status', async () => {
    client.script = async () => {
      throw new AuthenticationError('invalid x-api-key', { status: 401, method: 'POST', route: '/v1/files' });
    };
    const result = await executor(1).run([
      { kind: 'upload', path: 'a.txt', local: await file('a.txt', 'a') },
      { kind: 'upload', path: 'b.txt', local: await file('b.txt', 'b') },
      { kind: 'delete', path: 'c.txt', fileId: 'file_c' },
    ]);
    expect(client.log).toEqual(['upload a.txt']);
    expect(result.outcomes.map((o) => [o.status, o.httpStatus])).toEqual([
      ['failed', 401],
      ['failed', 401],
      ['failed', 401],
    ]);
    expect(result.outcomes[1]?.error).toMatch(/^not attempted: invalid x-api-key/);
    expect(result.retryLater.sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
  });

  it('a file that changed while uploading is "changed": intent dropped, looked at again', async () => {
    client.script = async () => {
      throw new SourceChangedError('a.txt changed while it was read');
    };
    const result = await executor().run([{ kind: 'upload', path: 'a.txt', local: await file('a.txt', 'a') }]);
    expect(result.outcomes[0]).toMatchObject({ status: 'changed', error: 'a.txt changed while it was read' });
    expect(result.retryLater).toEqual(['a.txt']);
    expect(manifest.uploads.size).toBe(0);
    expect(manifest.entries.size).toBe(0);
  });

  it('a file the API refuses is "refused": intent dropped, not retried', async () => {
    client.script = async () => {
      throw new BadRequestError('empty file', { status: 400, method: 'POST', route: '/v1/files' });
    };
    const result = await executor().run([{ kind: 'upload', path: 'a.txt', local: await file('a.txt', '') }]);
    expect(result.outcomes[0]).toMatchObject({ status: 'refused', httpStatus: 400, error: 'empty file' });
    expect(result.retryLater).toEqual([]);
    expect(manifest.uploads.size).toBe(0);
  });

  it('an upload with no answer is "ambiguous": its intent stays for reconciliation', async () => {
    client.script = async () => {
      throw new UploadOutcomeUnknownError('connection reset after the body was sent');
    };
    const result = await executor().run([{ kind: 'upload', path: 'a.txt', local: await file('a.txt', 'a') }]);
    expect(result.outcomes[0]?.status).toBe('ambiguous');
    expect(result.retryLater).toEqual(['a.txt']);
    expect([...manifest.uploads.keys()]).toEqual(['a.txt']);
    expect(manifest.entries.size).toBe(0);
  });

  it('a failed delete keeps its pending delete for the next pass', async () => {
    manifest.entries.set('a.txt', entry('file_a', 'h'));
    client.deleteError = new Error('socket hang up');
    const ex = executor();
    const result = await ex.run([{ kind: 'delete', path: 'a.txt', fileId: 'file_a' }]);
    expect(result.outcomes[0]).toMatchObject({ status: 'done', fileId: 'file_a' });
    expect(await ex.drainPendingDeletes()).toMatchObject({ done: 0, failed: 1 });
    expect(manifest.get('a.txt')).toBeUndefined();
    expect([...manifest.deletes.keys()]).toEqual(['file_a']);
  });
});

describe('Executor: post-upload stat check', () => {
  it('records the upload when the file is unchanged afterwards', async () => {
    const local = await file('a.txt', 'a');
    const result = await executor().run([{ kind: 'upload', path: 'a.txt', local }]);
    expect(result.outcomes[0]).toMatchObject({ status: 'done', fileId: 'file_1' });
    expect(manifest.get('a.txt')).toMatchObject({ fileId: 'file_1', sha256: local.sha256, size: local.size });
    expect(manifest.uploads.size).toBe(0);
  });

  it('discards the uploaded copy when the file changed during the upload', async () => {
    const local = await file('a.txt', 'a');
    client.script = async (source, filename) => {
      await fs.appendFile(source, 'more');
      return client.created(filename);
    };
    const ex = executor();
    const result = await ex.run([{ kind: 'upload', path: 'a.txt', local }]);
    expect(result.outcomes[0]?.status).toBe('changed');
    expect(result.retryLater).toEqual(['a.txt']);
    await ex.drainPendingDeletes();
    expect(client.log).toEqual(['upload a.txt', 'delete file_1']);
    expect(manifest.get('a.txt')).toBeUndefined();
    expect(manifest.uploads.size).toBe(0);
    expect(manifest.deletes.size).toBe(0);
  });
});

describe('Executor: the delayed delete queue', () => {
  it('holds due removals while everything queued is over the limits; sends and logs each once released', async () => {
    for (let i = 0; i < 20; i++) manifest.entries.set(`k${i}.txt`, entry(`keep_${i}`, 'h'));
    const at = NOW.toISOString();
    for (let i = 0; i < 10; i++)
      manifest.deletes.set(`gone_${i}`, {
        fileId: `gone_${i}`,
        path: `g${i}.txt`,
        reason: 'removed',
        queuedAt: at,
      });
    const later = new Date(NOW.getTime() + 60_000).toISOString();
    manifest.deletes.set('old_1', {
      fileId: 'old_1',
      path: 'k1.txt',
      reason: 'replaced',
      queuedAt: at,
      notBefore: later,
    });
    const lines: Array<Record<string, unknown>> = [];
    const capture = pino(
      { level: 'info' },
      { write: (s: string) => void lines.push(JSON.parse(s) as never) },
    );
    const ex = executor(4, { logger: capture, limits: { maxDeletes: 100, maxDeletePercent: 25 } });
    const held = await ex.drainPendingDeletes();
    // 10 removals of 30 tracked files (20 + the 10 taken out) is 33%: none is sent.
    expect(held).toMatchObject({ done: 0, held: 10, waiting: 1, nextDueAt: NOW.getTime() + 60_000 });
    expect(held.heldReason).toMatch(/33\.3% of 30 tracked files.*--allow-mass-delete/);
    expect(client.log).toEqual([]);

    const released = await ex.drainPendingDeletes({ allowMassDelete: true });
    expect(released).toMatchObject({ done: 10, held: 0, waiting: 1 });
    const sent = lines.filter((l) => l['msg'] === 'deleted remote file');
    expect(sent.map((l) => [l['level'], l['path'], l['fileId']]).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => [30, `g${i}.txt`, `gone_${i}`]).sort(),
    );
    // The superseded ID stays valid until its retention has passed.
    expect([...manifest.deletes.keys()]).toEqual(['old_1']);
  });

  it('a release also covers removals still waiting for their retention: they are not held again when due', async () => {
    let now = NOW.getTime();
    for (let i = 0; i < 20; i++) manifest.entries.set(`k${i}.txt`, entry(`keep_${i}`, 'h'));
    const later = new Date(now + 60_000).toISOString();
    for (let i = 0; i < 10; i++)
      manifest.deletes.set(`gone_${i}`, {
        fileId: `gone_${i}`,
        path: `g${i}.txt`,
        reason: 'removed',
        queuedAt: NOW.toISOString(),
        notBefore: later,
      });
    const ex = executor(4, { now: () => new Date(now), limits: { maxDeletes: 100, maxDeletePercent: 25 } });
    expect(await ex.drainPendingDeletes({ allowMassDelete: true })).toMatchObject({ done: 0, waiting: 10 });
    now += 61_000;
    expect(await ex.drainPendingDeletes()).toMatchObject({ done: 10, held: 0 });
  });

  it('a removal queued with retention keeps what a later move needs to take its ID back', async () => {
    manifest.entries.set('a.txt', { ...entry('file_a', 'ha'), expiresAt: '2026-12-01T00:00:00.000Z' });
    manifest.entries.set('b.txt', entry('file_b', 'hb'));
    await executor(4, { retention: { supersededMs: 0, removedMs: 60_000 } }).run([
      { kind: 'delete', path: 'a.txt', fileId: 'file_a' },
    ]);
    expect(manifest.deletes.get('file_a')).toEqual({
      fileId: 'file_a',
      path: 'a.txt',
      reason: 'removed',
      queuedAt: NOW.toISOString(),
      notBefore: new Date(NOW.getTime() + 60_000).toISOString(),
      sha256: 'ha',
      remoteName: 'x',
      mimeType: 'text/plain',
      uploadedAt: NOW.toISOString(),
      expiresAt: '2026-12-01T00:00:00.000Z',
    });
    // Without retention the delete goes at the end of the pass: nothing to take back.
    await executor(4).run([{ kind: 'delete', path: 'b.txt', fileId: 'file_b' }]);
    expect(manifest.deletes.get('file_b')).toEqual({
      fileId: 'file_b',
      path: 'b.txt',
      reason: 'removed',
      queuedAt: NOW.toISOString(),
    });
  });

  it('a move from the delete queue records the queued ID at the new path in one durable batch and sends nothing', async () => {
    manifest.entries.set('old/a.txt', { ...entry('file_a', 'ha'), remoteName: 'a.txt' });
    const ex = executor(4, { retention: { supersededMs: 0, removedMs: 60_000 } });
    await ex.run([{ kind: 'delete', path: 'old/a.txt', fileId: 'file_a' }]);
    const queued = manifest.deletes.get('file_a')!;
    manifest.log.length = 0;
    const local = await file('a.txt', 'alpha', 'ha');
    const {
      outcomes: [outcome],
    } = await ex.run([{ kind: 'move', from: 'old/a.txt', to: 'new/a.txt', local, queued }]);
    await ex.drainPendingDeletes();

    expect(outcome).toMatchObject({ status: 'done', fileId: 'file_a' });
    expect(manifest.entries.get('new/a.txt')).toEqual({
      fileId: 'file_a',
      sha256: 'ha',
      size: local.size,
      mtimeMs: local.mtimeMs,
      ino: local.ino,
      remoteName: 'a.txt',
      mimeType: 'text/plain',
      uploadedAt: NOW.toISOString(),
    });
    expect(manifest.deletes.size).toBe(0);
    // The entry and the unqueueing before one flush: never a recorded ID queued, or the reverse.
    expect(manifest.log.slice(0, 3)).toEqual(['set new/a.txt file_a', 'unqueue file_a', 'flush']);
    expect(client.log).toEqual([]);
  });

  it('a move from the delete queue fails when the delete is no longer queued (the path is looked at again)', async () => {
    const local = await file('a.txt', 'alpha', 'ha');
    const queued = queuedRemoval('file_a', 'old/a.txt', NOW, { sha256: 'ha' });
    const {
      outcomes: [outcome],
    } = await executor().run([{ kind: 'move', from: 'old/a.txt', to: 'new/a.txt', local, queued }]);
    expect(outcome).toMatchObject({ status: 'failed', error: 'file_a is no longer queued for deletion' });
    expect(manifest.entries.has('new/a.txt')).toBe(false);
  });

  it('a replace queues the old ID with its retention instead of deleting it', async () => {
    manifest.entries.set('a.txt', entry('file_old', 'h0'));
    const ex = executor(4, { retention: { supersededMs: 600_000, removedMs: 60_000 } });
    await ex.run([
      { kind: 'replace', path: 'a.txt', local: await file('a.txt', 'new'), oldFileId: 'file_old' },
    ]);
    await ex.drainPendingDeletes();
    expect(client.log).toEqual(['upload a.txt']);
    expect(manifest.deletes.get('file_old')).toMatchObject({
      reason: 'replaced',
      notBefore: new Date(NOW.getTime() + 600_000).toISOString(),
    });
  });
});
