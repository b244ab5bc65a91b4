// Whether a pid is still the process that wrote it down: liveness plus a start-time identity (Linux /proc).
import { readFileSync } from 'node:fs';

/** True when a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown } | null)?.code === 'EPERM';
  }
}

/**
 * An identity of the process `pid` that a later process reusing the pid cannot share: the boot id
 * plus the start time in clock ticks since boot (/proc/<pid>/stat field 22). The boot id matters:
 * after a reboot, systemd starts services in the same order, so the same pid can come back with
 * almost the same tick count. Undefined where /proc is not available (macOS, Windows, a
 * restricted /proc): callers then fall back to liveness alone.
 */
export function processStartId(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may itself contain spaces or ')': split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = rest[19]; // field 22; `rest` starts at field 3
    if (ticks === undefined || !/^\d+$/.test(ticks)) return undefined;
    return `${bootId()}:${ticks}`;
  } catch {
    return undefined;
  }
}

let cachedBootId: string | undefined;

function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = 'unknown-boot';
    }
  }
  return cachedBootId;
}
