import { describe, expect, it } from 'vitest';
import { DuplicateFileIdError, UnknownCursorError } from '../../src/emulator/errors.js';
import { FileStore, type StoredFile } from '../../src/emulator/store.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function file(n: number, createdAtMs = T0): StoredFile {
  return {
    id: `file_${String(n).padStart(6, '0')}`,
    filename: `f${n}.txt`,
    mimeType: 'text/plain',
    sizeBytes: n,
    createdAt: new Date(createdAtMs).toISOString(),
    sha256: null,
    downloadable: false,
  };
}

function ids(files: StoredFile[]): string[] {
  return files.map((f) => f.id);
}

function filled(n: number): FileStore {
  const s = new FileStore();
  // Same timestamp for all: ties must fall back to insertion order.
  for (let i = 0; i < n; i++) s.insert(file(i));
  return s;
}

describe('FileStore', () => {
  it('lists newest first, ties broken by insertion order', () => {
    const s = filled(5);
    expect(ids(s.list({ limit: 10 }).data)).toEqual([
      'file_000004',
      'file_000003',
      'file_000002',
      'file_000001',
      'file_000000',
    ]);
    expect(ids(s.all())).toEqual(ids(s.list({ limit: 10 }).data));
  });

  it('orders by created_at even when a backdated file is inserted later', () => {
    const s = new FileStore();
    s.insert(file(1, T0 + 1000));
    s.insert(file(2, T0 + 3000));
    s.insert(file(3, T0 + 2000));
    expect(ids(s.all())).toEqual(['file_000002', 'file_000003', 'file_000001']);
  });

  it('pages forward with afterId and reports hasMore', () => {
    const s = filled(5);
    const p1 = s.list({ limit: 2 });
    expect(ids(p1.data)).toEqual(['file_000004', 'file_000003']);
    expect(p1.hasMore).toBe(true);
    const p2 = s.list({ limit: 2, afterId: 'file_000003' });
    expect(ids(p2.data)).toEqual(['file_000002', 'file_000001']);
    expect(p2.hasMore).toBe(true);
    const p3 = s.list({ limit: 2, afterId: 'file_000001' });
    expect(ids(p3.data)).toEqual(['file_000000']);
    expect(p3.hasMore).toBe(false);
  });

  it('pages backward with beforeId: the page nearest the cursor, newest first', () => {
    const s = filled(6);
    const p = s.list({ limit: 2, beforeId: 'file_000001' });
    expect(ids(p.data)).toEqual(['file_000003', 'file_000002']);
    expect(p.hasMore).toBe(true);
    const top = s.list({ limit: 2, beforeId: 'file_000003' });
    expect(ids(top.data)).toEqual(['file_000005', 'file_000004']);
    expect(top.hasMore).toBe(false);
  });

  it('keeps a deleted cursor usable', () => {
    const s = filled(5);
    s.delete('file_000003');
    expect(s.get('file_000003')).toBeUndefined();
    expect(ids(s.list({ limit: 10, afterId: 'file_000003' }).data)).toEqual([
      'file_000002',
      'file_000001',
      'file_000000',
    ]);
    expect(ids(s.list({ limit: 10, beforeId: 'file_000003' }).data)).toEqual(['file_000004']);
  });

  it('throws UnknownCursorError for an ID it never held', () => {
    expect(() => filled(2).list({ limit: 1, afterId: 'file_nope' })).toThrow(UnknownCursorError);
  });

  it('refuses a duplicate ID, live or deleted', () => {
    const s = filled(2);
    expect(() => s.insert(file(1))).toThrow(DuplicateFileIdError);
    s.delete('file_000000');
    expect(() => s.insert(file(0))).toThrow(DuplicateFileIdError);
  });

  it('stays correct across compaction after many deletes', () => {
    const s = filled(6000);
    for (let i = 0; i < 6000; i++) if (i % 3 !== 0) s.delete(file(i).id);
    expect(s.size).toBe(2000);
    // Walk every page with a cursor that was deleted before compaction.
    const walked: string[] = [];
    let after: string | undefined = 'file_005999';
    for (;;) {
      const page = s.list({ limit: 333, ...(after !== undefined ? { afterId: after } : {}) });
      walked.push(...ids(page.data));
      if (!page.hasMore) break;
      after = page.data[page.data.length - 1]?.id;
    }
    expect(walked).toEqual(ids(s.all()));
    expect(walked[0]).toBe('file_005997');
    expect(walked).toHaveLength(2000);
  });

  it('returns undefined when deleting a file that is not live', () => {
    const s = filled(1);
    expect(s.delete('file_000000')?.id).toBe('file_000000');
    expect(s.delete('file_000000')).toBeUndefined();
  });
});
