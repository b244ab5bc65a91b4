/** The progress line of `sync` on a TTY, the readable log lines above it, and human sizes, with a fake clock and stream. */
import { describe, expect, it } from 'vitest';
import { ProgressLine, SyncProgress } from '../../src/cli/progress.js';
import { formatLogLine, humanLogDestination } from '../../src/cli/human-log.js';
import { formatBytes, formatDuration } from '../../src/cli/human.js';
import type { Plan } from '../../src/sync/plan.js';
import type { SyncOp } from '../../src/sync/ops.js';

function fakeTerminal(isTTY = true) {
  let out = '';
  let clock = 0;
  const stream = { isTTY, columns: 200, write: (t: string) => (out += t) };
  return {
    stream,
    now: () => clock,
    tick: (ms: number) => (clock += ms),
    output: () => out,
    /** What the terminal shows: each \r\x1b[2K wipes the line being drawn. */
    screen: () =>
      out
        .split('\n')
        .map((l) => l.split('\r\x1b[2K').at(-1))
        .join('\n'),
  };
}

const local = (size: number) => ({ path: 'x', size, mtimeMs: 1, ino: 1, sha256: 'h' });

function planOf(ops: SyncOp[]): Plan {
  return { ops, skipped: [], unmanagedRemote: 0, unchanged: 0 };
}

describe('human sizes and durations', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024 - 1, '1.0 MiB'],
    [150 * 1024 * 1024, '150 MiB'],
    [3.25 * 1024 ** 3, '3.3 GiB'],
  ])('formatBytes(%d) = %s', (n, text) => expect(formatBytes(n)).toBe(text));

  it.each([
    [0, '0s'],
    [42_400, '42s'],
    [185_000, '3m05s'],
    [3_720_000, '1h02m'],
  ])('formatDuration(%d) = %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('ProgressLine', () => {
  it('counts files and bytes of a phase, with rate and ETA once a second has passed', () => {
    const t = fakeTerminal();
    const line = new ProgressLine({ stream: t.stream, now: t.now });
    line.phase('docs', 'uploading', { files: 4, bytes: 4 * 1024 * 1024 });
    expect(line.render()).toBe('docs: uploading [....................] 0/4 files, 0 B/4.0 MiB');
    t.tick(2000);
    line.advance(1, 1024 * 1024);
    expect(line.render()).toBe(
      'docs: uploading [#####...............] 1/4 files, 1.0 MiB/4.0 MiB, 512 KiB/s, ETA 6s',
    );
  });

  it('a phase without totals shows the time spent; one with only deletes counts files per second', () => {
    const t = fakeTerminal();
    const line = new ProgressLine({ stream: t.stream, now: t.now });
    line.phase('docs', 'scanning');
    t.tick(3000);
    expect(line.render()).toBe('docs: scanning... 3s');
    line.phase('docs', 'syncing', { files: 10, bytes: 0 });
    t.tick(2000);
    line.advance(4, 0);
    expect(line.render()).toBe('docs: syncing [########............] 4/10 files, 2.0 files/s, ETA 3s');
  });

  it('redraws in place at most every 100 ms and prints log lines above the bar', () => {
    const t = fakeTerminal();
    const line = new ProgressLine({ stream: t.stream, now: t.now });
    line.phase('docs', 'uploading', { files: 3, bytes: 3 });
    line.advance(1, 1);
    line.advance(1, 1); // within 100 ms: not drawn
    expect(t.output().split('\r\x1b[2K')).toHaveLength(2);
    t.tick(150);
    line.advance(1, 1);
    humanLogDestination(line).write(
      '{"level":"warn","time":"t","pid":1,"folder":"docs","path":"big.iso","reason":"too-large","msg":"file not synced"}\n',
    );
    line.finish();
    expect(t.screen()).toBe('warning: file not synced (folder=docs, path=big.iso, reason=too-large)\n');
    expect(t.output()).not.toContain('{"level"');
  });

  it('writes nothing but the log lines when the stream is no TTY', () => {
    const t = fakeTerminal(false);
    const line = new ProgressLine({ stream: t.stream, now: t.now });
    line.phase('docs', 'uploading', { files: 1, bytes: 1 });
    line.advance(1, 1);
    line.above('warning: x');
    line.finish();
    expect(t.output()).toBe('warning: x\n');
  });
});

describe('SyncProgress', () => {
  it('counts files, not internal operations: bookkeeping ops and held deletes are left out', () => {
    const t = fakeTerminal();
    const p = new SyncProgress(new ProgressLine({ stream: t.stream, now: t.now }));
    p.startFolder('docs');
    const upload: SyncOp = { kind: 'upload', path: 'a', local: local(1000) };
    const ops: SyncOp[] = [
      upload,
      { kind: 'replace', path: 'b', local: local(24), oldFileId: 'f1' },
      { kind: 'refresh', path: 'c', local: local(5) },
      { kind: 'drop-intent', path: 'd' },
      { kind: 'delete', path: 'e', fileId: 'f2' },
      { kind: 'delete', path: 'f', fileId: 'f3' },
    ];
    p.onPlan(planOf(ops), 1, false);
    expect(p.line.render()).toBe('docs: uploading [....................] 0/3 files, 0 B/1.0 KiB');
    p.onOpEnd({ op: upload, status: 'done', fileId: 'f9' });
    p.onOpEnd({ op: ops[2]!, status: 'done' });
    expect(p.line.render()).toMatch(/^docs: uploading \[#+\.*\] 1\/3 files, 1000 B\/1\.0 KiB$/);
    expect(p.done).toEqual({ files: 1, bytes: 1000 });
  });

  it('shows scanning, then hashing with its own totals', () => {
    const t = fakeTerminal();
    const p = new SyncProgress(new ProgressLine({ stream: t.stream, now: t.now }));
    p.startFolder('docs');
    p.onScan({ phase: 'scanning' });
    expect(p.line.render()).toBe('docs: scanning... 0s');
    p.onScan({ phase: 'hashing', files: 2, bytes: 2048 });
    p.onScan({ phase: 'hashed', bytes: 1024 });
    expect(p.line.render()).toBe('docs: hashing [##########..........] 1/2 files, 1.0 KiB/2.0 KiB');
  });
});

describe('formatLogLine', () => {
  it('turns a pino line into one readable line with control characters escaped', () => {
    expect(
      formatLogLine(
        '{"level":"error","time":"t","pid":2,"path":"a\\u001b[31m.txt","err":{"status":500},"msg":"operation failed"}',
      ),
    ).toBe('error: operation failed (path=a\\e[31m.txt, err={"status":500})');
    expect(formatLogLine('not json\n')).toBe('not json');
  });
});
