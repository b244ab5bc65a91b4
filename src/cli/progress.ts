/**
 * Progress of `files-sync sync` on a TTY, like `rclone -P`: the phase (scanning, hashing, listing,
 * uploading), files and bytes done of total, rate and ETA on one line that redraws in place, with
 * log lines printed above it. Silent when the stream is no TTY, so logs and pipes stay clean.
 */
import type { OpOutcome } from '../sync/execute.js';
import type { ScanProgress } from '../sync/local-state.js';
import type { Plan } from '../sync/plan.js';
import { isUploadOp, type SyncOp } from '../sync/ops.js';
import { formatBytes, formatDuration } from './human.js';

/** What the line writes to: stderr, or a fake in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

export interface ProgressOptions {
  stream?: ProgressStream | undefined;
  /** Injected clock (ms), for tests. */
  now?: (() => number) | undefined;
  /** Redraws at most this often (a burst of small files would otherwise flood the terminal). */
  minIntervalMs?: number | undefined;
}

interface Count {
  done: number;
  total: number;
}

const CLEAR = '\r\x1b[2K';

/** One redrawn line: a phase with optional file and byte totals. */
export class ProgressLine {
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private label = '';
  private name = '';
  private files: Count | undefined;
  private bytes: Count = { done: 0, total: 0 };
  private startedAt = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private shown = false;

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = this.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
    this.minIntervalMs = opts.minIntervalMs ?? 100;
  }

  /** Starts a phase; with totals it counts files and bytes, without it shows the time spent. */
  phase(label: string, name: string, totals?: { files: number; bytes: number }): void {
    this.label = label;
    this.name = name;
    this.files = totals ? { done: 0, total: totals.files } : undefined;
    this.bytes = { done: 0, total: totals?.bytes ?? 0 };
    this.startedAt = this.now();
    this.draw(true);
  }

  /** Files and bytes done in the current phase. */
  advance(files: number, bytes: number): void {
    if (this.files) this.files.done += files;
    this.bytes.done += bytes;
    this.draw(false);
  }

  /** Prints a whole line above the progress line (a warning, a summary) and redraws the line. */
  above(text: string): void {
    if (!this.enabled) {
      this.stream.write(`${text}\n`);
      return;
    }
    this.stream.write(`${CLEAR}${text}\n`);
    this.shown = false;
    if (this.name !== '') this.draw(true);
  }

  /** Clears the line (the phase is over). */
  finish(): void {
    if (this.enabled && this.shown) this.stream.write(CLEAR);
    this.shown = false;
    this.name = '';
  }

  /** The line as it would be drawn now. */
  render(): string {
    const elapsed = this.now() - this.startedAt;
    const head = `${this.label}: ${this.name}`;
    if (!this.files) return `${head}... ${formatDuration(elapsed)}`;
    const { files, bytes } = this;
    const byBytes = bytes.total > 0;
    const frac = byBytes ? bytes.done / bytes.total : files.total > 0 ? files.done / files.total : 1;
    const width = 20;
    const bar = '#'.repeat(Math.round(Math.min(1, frac) * width)).padEnd(width, '.');
    const parts = [`${head} [${bar}] ${files.done}/${files.total} files`];
    if (byBytes) parts.push(`${formatBytes(bytes.done)}/${formatBytes(bytes.total)}`);
    // A rate needs a second of history to mean anything; the ETA follows from it.
    const seconds = elapsed / 1000;
    const done = byBytes ? bytes.done : files.done;
    const total = byBytes ? bytes.total : files.total;
    if (seconds >= 1 && done > 0) {
      const rate = done / seconds;
      parts.push(byBytes ? `${formatBytes(rate)}/s` : `${rate.toFixed(1)} files/s`);
      parts.push(`ETA ${formatDuration(((total - done) / rate) * 1000)}`);
    }
    return parts.join(', ');
  }

  private draw(force: boolean): void {
    if (!this.enabled || this.name === '') return;
    const now = this.now();
    if (!force && now - this.lastDraw < this.minIntervalMs) return;
    this.lastDraw = now;
    // A pseudo-TTY without a size reports 0 columns.
    const columns = this.stream.columns || 80;
    const line = this.render();
    this.stream.write(`${CLEAR}${line.length >= columns ? `${line.slice(0, columns - 2)}…` : line}`);
    this.shown = true;
  }
}

/** The ops a person counts as a file synced; the rest is bookkeeping (stat refreshes, intents). */
function isFileOp(op: SyncOp): boolean {
  return isUploadOp(op) || op.kind === 'delete' || op.kind === 'move';
}

/** Feeds a sync's events to a ProgressLine and keeps what was done, for the Ctrl-C message. */
export class SyncProgress {
  private folder = '';
  /** Files and bytes done by every folder so far. */
  readonly done = { files: 0, bytes: 0 };

  constructor(readonly line: ProgressLine) {}

  startFolder(name: string): void {
    this.folder = name;
  }

  onScan(e: ScanProgress): void {
    if (e.phase === 'hashed') this.line.advance(1, e.bytes);
    else if (e.phase === 'hashing')
      this.line.phase(this.folder, 'hashing', { files: e.files, bytes: e.bytes });
    else this.line.phase(this.folder, e.phase === 'scanning' ? 'scanning' : 'listing remote files');
  }

  /** The plan is known: count its files (held deletes do not run) and their bytes. */
  onPlan(plan: Plan, held: number, dryRun: boolean): void {
    if (dryRun) return this.line.finish();
    let files = -held;
    let bytes = 0;
    for (const op of plan.ops) {
      if (!isFileOp(op)) continue;
      files++;
      if (isUploadOp(op)) bytes += op.local.size;
    }
    this.line.phase(this.folder, bytes > 0 ? 'uploading' : 'syncing', { files, bytes });
  }

  onOpEnd(outcome: OpOutcome): void {
    if (!isFileOp(outcome.op)) return;
    const bytes = outcome.status === 'done' && isUploadOp(outcome.op) ? outcome.op.local.size : 0;
    if (outcome.status === 'done') {
      this.done.files++;
      this.done.bytes += bytes;
    }
    this.line.advance(1, bytes);
  }
}
