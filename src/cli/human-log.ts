/** Log lines for a person at a terminal: `warning: file not synced (path=a.txt, reason=too-large)`, not JSON. */
import type { DestinationStream } from 'pino';
import { displayPath } from '../local/display-name.js';
import type { ProgressLine } from './progress.js';

const LABELS: Readonly<Record<string, string>> = { warn: 'warning', fatal: 'error' };

/** One pino JSON line as one readable line; anything that is not JSON passes through. */
export function formatLogLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return displayPath(json.trimEnd());
  }
  const { level, time: _time, pid: _pid, hostname: _hostname, msg, ...fields } = record;
  const label = typeof level === 'string' ? (LABELS[level] ?? level) : 'log';
  const shown = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const text = `${label}: ${typeof msg === 'string' ? msg : ''}${shown.length > 0 ? ` (${shown.join(', ')})` : ''}`;
  // Paths and errors can hold control characters: one line that cannot move the cursor.
  return displayPath(text);
}

/** A pino destination that prints each line readably above the progress line. */
export function humanLogDestination(line: ProgressLine): DestinationStream {
  return { write: (json: string) => line.above(formatLogLine(json)) };
}
