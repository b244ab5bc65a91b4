/** Reads a live process's memory and inotify watches from /proc (Linux only). */
import { promises as fs } from 'node:fs';

/** Resident and peak-resident memory of a process, in MB; null when /proc has no such process. */
export async function readMemoryMB(pid: number): Promise<{ rssMB: number; hwmMB: number } | null> {
  let text: string;
  try {
    text = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
}

/**
 * Counts the inotify watches a process holds: every fd that is an inotify instance lists one
 * `inotify wd:` line per watch in its fdinfo.
 */
export async function countInotifyWatches(pid: number): Promise<{ instances: number; watches: number }> {
  let fds: string[];
  try {
    fds = await fs.readdir(`/proc/${pid}/fd`);
  } catch {
    return { instances: 0, watches: 0 };
  }
  let instances = 0;
  let watches = 0;
  for (const fd of fds) {
    const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (!target.includes('inotify')) continue;
    instances++;
    const info = await fs.readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
    for (const line of info.split('\n')) if (line.startsWith('inotify wd:')) watches++;
  }
  return { instances, watches };
}

/** The kernel's per-user inotify watch limit, or null when unreadable. */
export async function inotifyWatchLimit(): Promise<number | null> {
  const text = await fs.readFile('/proc/sys/fs/inotify/max_user_watches', 'utf8').catch(() => '');
  const n = Number(text.trim());
  return text && Number.isFinite(n) ? n : null;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every mainstream Linux build). */
const USER_HZ = 100;

/** CPU time (user + system) a live process has used so far, in ms; null when it is gone. */
export async function readCpuMs(pid: number): Promise<number | null> {
  const text = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (text === null) return null;
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / USER_HZ : null;
}
