/** Numbers for people: sizes in binary units, durations as 1h02m / 3m05s / 42s. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 0 B, 999 B, 1.0 KiB, 12.3 MiB, 512 GiB: three significant figures at most, 1024-based like rclone. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '? B';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  // 1023.9 KiB would print as "1024 KiB": show it as the next unit instead.
  const shown = value >= 99.95 ? value.toFixed(0) : value.toFixed(1);
  if (shown === '1024' && unit < UNITS.length - 1) return `1.0 ${UNITS[unit + 1]}`;
  return `${shown} ${UNITS[unit]}`;
}

/** 42s, 3m05s, 1h02m; whole seconds. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
