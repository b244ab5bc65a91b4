import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const UNIT_DIR = fileURLToPath(new URL('../../systemd/', import.meta.url));

/** A unit file as section -> key -> values (a key may repeat, e.g. EnvironmentFile). */
type Unit = Map<string, Map<string, string[]>>;

/** Parses systemd's INI dialect: sections, key=value, # and ; comments, backslash continuations. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || section === undefined) throw new Error(`unparsable line ${i + 1}: ${line}`);
    const key = line.slice(0, eq).trim();
    const values = section.get(key) ?? [];
    values.push(line.slice(eq + 1).trim());
    section.set(key, values);
  }
  return unit;
}

async function loadUnit(name: string): Promise<{ text: string; unit: Unit }> {
  const text = await readFile(path.join(UNIT_DIR, name), 'utf8');
  return { text, unit: parseUnit(text) };
}

/** The last value of a key (systemd's "last one wins" for single-valued settings). */
function get(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

const SYSTEM_HARDENING: Record<string, string> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'read-only',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectKernelModules: 'yes',
  ProtectKernelLogs: 'yes',
  ProtectControlGroups: 'yes',
  ProtectClock: 'yes',
  ProtectHostname: 'yes',
  RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
  RestrictNamespaces: 'yes',
  RestrictRealtime: 'yes',
  RestrictSUIDSGID: 'yes',
  LockPersonality: 'yes',
  MemoryDenyWriteExecute: 'no',
  SystemCallArchitectures: 'native',
  SystemCallErrorNumber: 'EPERM',
  ProtectProc: 'invisible',
  RemoveIPC: 'yes',
  PrivateMounts: 'yes',
  UMask: '0077',
  CapabilityBoundingSet: '',
  AmbientCapabilities: '',
};

/** The system call allow list, then what is taken out of it (both lines, in this order). */
const SYSCALL_FILTER = ['@system-service', '~@privileged @resources'];

const COMMON_SERVICE: Record<string, string> = {
  ExecReload: '/bin/kill -HUP $MAINPID',
  Restart: 'on-failure',
  RestartSec: '5s',
  RestartPreventExitStatus: '78',
  KillSignal: 'SIGTERM',
  TimeoutStopSec: '60',
  LimitNOFILE: '65536',
  StandardOutput: 'journal',
  StateDirectoryMode: '0700',
};

/** Options that need mount namespaces or capabilities, which a user manager may not have. */
const PRIVILEGED_ONLY = [
  'User',
  'Group',
  'DynamicUser',
  'ProtectSystem',
  'ProtectHome',
  'PrivateTmp',
  'PrivateDevices',
  'ProtectKernelTunables',
  'ProtectKernelModules',
  'ProtectControlGroups',
  'CapabilityBoundingSet',
  'AmbientCapabilities',
  'ProtectProc',
  'PrivateMounts',
  'RemoveIPC',
];

/** Where `npm install -g --prefix /usr/local` (the documented install) puts the binary. */
const BINARY = '/usr/local/bin/files-sync';

/** Some machines (CI containers) have no systemd: the checks that run it are then skipped with a note. */
function systemdAnalyzeInstalled(): Promise<boolean> {
  return run('which', ['systemd-analyze']).then(
    () => true,
    () => false,
  );
}

function expectSettings(unit: Unit, section: string, expected: Record<string, string>): void {
  const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, get(unit, section, k)]));
  expect(actual).toEqual(expected);
}

function execStartArgs(unit: Unit): string[] {
  const exec = unit.get('Service')?.get('ExecStart');
  expect(exec, 'exactly one ExecStart').toHaveLength(1);
  return exec![0]!.split(/\s+/);
}

describe('systemd units (static checks)', () => {
  it('files-sync.service runs `run` as files-sync with the full hardening set', async () => {
    const { unit } = await loadUnit('files-sync.service');
    expect(execStartArgs(unit)).toEqual([BINARY, 'run', '-c', '/etc/files-sync/config.json']);
    expect(unit.get('Service')?.get('SystemCallFilter')).toEqual(SYSCALL_FILTER);
    expectSettings(unit, 'Service', {
      User: 'files-sync',
      Group: 'files-sync',
      DynamicUser: 'no',
      StateDirectory: 'files-sync',
      ConfigurationDirectory: 'files-sync',
      EnvironmentFile: '/etc/files-sync/env',
      Environment: 'NODE_ENV=production',
      ...COMMON_SERVICE,
      ...SYSTEM_HARDENING,
    });
    expect(get(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('files-sync@.service runs one daemon per config with its own state directory', async () => {
    const { unit } = await loadUnit('files-sync@.service');
    expect(execStartArgs(unit)).toEqual([BINARY, 'run', '-c', '/etc/files-sync/%i.json']);
    expect(unit.get('Service')?.get('SystemCallFilter')).toEqual(SYSCALL_FILTER);
    expectSettings(unit, 'Service', {
      User: 'files-sync',
      Group: 'files-sync',
      DynamicUser: 'no',
      StateDirectory: 'files-sync/%i',
      ConfigurationDirectory: 'files-sync',
      ...COMMON_SERVICE,
      ...SYSTEM_HARDENING,
    });
    // The instance's own env file comes last, so it overrides the shared one.
    expect(unit.get('Service')?.get('EnvironmentFile')).toEqual([
      '-/etc/files-sync/env',
      '-/etc/files-sync/%i.env',
    ]);
    expect(get(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('files-sync.user.service runs `run` from the home directory with user-mode hardening only', async () => {
    const { unit } = await loadUnit('files-sync.user.service');
    const args = execStartArgs(unit);
    expect(args.slice(args.indexOf('run'))).toEqual(['run', '-c', '%h/.config/files-sync/config.json']);
    expect(['/usr/bin/env files-sync', '%h/.local/bin/files-sync']).toContain(
      args.slice(0, args.indexOf('run')).join(' '),
    );
    expectSettings(unit, 'Service', {
      StateDirectory: 'files-sync',
      EnvironmentFile: '%h/.config/files-sync/env',
      NoNewPrivileges: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      RestrictNamespaces: 'yes',
      RestrictRealtime: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      MemoryDenyWriteExecute: 'no',
      SystemCallArchitectures: 'native',
      SystemCallErrorNumber: 'EPERM',
      UMask: '0077',
      ...COMMON_SERVICE,
    });
    expect(unit.get('Service')?.get('SystemCallFilter')).toEqual(SYSCALL_FILTER);
    expect(unit.get('Service')?.get('Environment')).toContain('NODE_ENV=production');
    const present = PRIVILEGED_ONLY.filter((k) => unit.get('Service')?.has(k));
    expect(present).toEqual([]);
    expect(get(unit, 'Install', 'WantedBy')).toBe('default.target');
  });

  it('every unit explains why MemoryDenyWriteExecute stays off', async () => {
    for (const name of ['files-sync.service', 'files-sync@.service', 'files-sync.user.service']) {
      const { text } = await loadUnit(name);
      expect(text, name).toMatch(/#.*JIT.*\n(#.*\n)*MemoryDenyWriteExecute=no/);
    }
  });

  it('env.example names ANTHROPIC_API_KEY with no value and says to keep it 0600', async () => {
    const text = await readFile(path.join(UNIT_DIR, 'env.example'), 'utf8');
    const assignments = text.split('\n').filter((l) => /^[A-Z_]+=/.test(l));
    expect(assignments).toEqual(['ANTHROPIC_API_KEY=']);
    expect(text).toContain('0600');
    expect(text).not.toMatch(/sk-ant-/);
  });

  it('README covers install, key file, start, logs, reload and the inotify sysctl', async () => {
    const text = await readFile(path.join(UNIT_DIR, 'README.md'), 'utf8');
    for (const needle of [
      'useradd --system',
      '/etc/systemd/system/',
      'chmod 600',
      'systemctl daemon-reload',
      'systemctl enable --now files-sync',
      'journalctl -u files-sync -f',
      'systemctl reload files-sync',
      'systemctl --user enable --now files-sync',
      'fs.inotify.max_user_watches=524288',
      '/etc/sysctl.d/',
      BINARY,
      'npm pack',
      'npm install -g --prefix /usr/local',
      'systemd-analyze security --offline=true',
    ]) {
      expect(text, needle).toContain(needle);
    }
  });
});

describe('systemd units (systemd-analyze verify, when installed)', () => {
  const temps: string[] = [];
  afterAll(async () => {
    for (const t of temps) await rm(t, { recursive: true, force: true });
  });

  /**
   * Verifies a copy of a unit whose ExecStart binary is a stub script (the real binary is not
   * installed here) and returns the diagnostics that concern the unit itself. Messages about
   * the machine (no files-sync user, no systemd running) are not about our directives.
   */
  async function verify(name: string, mutate: (text: string) => string = (t) => t): Promise<string[]> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-units-'));
    temps.push(dir);
    const stub = path.join(dir, 'files-sync-stub');
    await writeFile(stub, '#!/bin/sh\nexit 0\n');
    await chmod(stub, 0o755);
    const text = await readFile(path.join(UNIT_DIR, name), 'utf8');
    const stubbed = text.replace(/^ExecStart=(\S+)/m, `ExecStart=${stub}`);
    expect(stubbed, 'ExecStart was replaced').not.toBe(text);
    const user = name.includes('.user.');
    // A user unit is installed as files-sync.service in ~/.config/systemd/user.
    const file = path.join(dir, user ? 'files-sync.service' : name);
    await writeFile(file, mutate(stubbed));
    const runtimeDir = path.join(dir, 'runtime');
    await mkdir(runtimeDir, { mode: 0o700 });
    const args = user ? ['--user', 'verify', file] : ['verify', file];
    // A user manager needs a runtime directory, which a CI container has no session for.
    const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir, SYSTEMD_LOG_COLOR: '0' };
    let output: string;
    try {
      const { stdout, stderr } = await run('systemd-analyze', args, { env, timeout: 60_000 });
      output = stdout + stderr;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      output = (e.stdout ?? '') + (e.stderr ?? '');
    }
    const unitName = path.basename(file);
    return output
      .split('\n')
      .filter(
        (l) =>
          l.includes(file) ||
          l.includes(unitName) ||
          /Unknown (key|section)|Failed to parse|Invalid/i.test(l),
      )
      .filter((l) => !/files-sync['"]? (user|group)|Failed to resolve (user|group)/i.test(l));
  }

  it('systemd-analyze verify reports nothing about our directives', async () => {
    if (!(await systemdAnalyzeInstalled())) {
      console.log('systemd-analyze not installed: static checks only, verify step not run');
      return;
    }
    const misspell = (t: string): string => t.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes');
    // The system manager's parser works anywhere systemd-analyze is installed: its control must hold.
    expect((await verify('files-sync.service', misspell)).join('\n')).toMatch(/NoNewPrivilege\b/);

    let verified = 0;
    for (const name of ['files-sync.service', 'files-sync@.service', 'files-sync.user.service']) {
      // Control: a misspelt directive must be reported, or the unit was never parsed (a user
      // manager may be unable to start here) and an empty report would prove nothing.
      const control = await verify(name, misspell);
      if (!control.some((l) => /NoNewPrivilege\b/.test(l))) {
        console.log(`systemd-analyze could not verify ${name} here: ${control.join(' | ') || 'no output'}`);
        continue;
      }
      expect(await verify(name), name).toEqual([]);
      verified++;
    }
    expect(verified).toBeGreaterThanOrEqual(2);
  });
});

describe('systemd-analyze security --offline=true (when installed)', () => {
  /** The exposure figure systemd/README.md documents for a unit ("| `files-sync.service` | 1.3 OK |"). */
  async function documented(name: string): Promise<number> {
    const text = await readFile(path.join(UNIT_DIR, 'README.md'), 'utf8');
    const row = new RegExp('^\\| `' + name.replace(/[.@]/g, '\\$&') + '`\\s*\\| (\\d+\\.\\d)', 'm').exec(
      text,
    );
    expect(row, `a score row for ${name} in systemd/README.md`).not.toBeNull();
    return Number(row![1]);
  }

  it('the system units are exposed no more than systemd/README.md says', async () => {
    if (!(await systemdAnalyzeInstalled())) {
      console.log('systemd-analyze not installed: exposure scores not measured');
      return;
    }
    for (const name of ['files-sync.service', 'files-sync@.service']) {
      const { stdout } = await run(
        'systemd-analyze',
        ['security', '--offline=true', path.join(UNIT_DIR, name)],
        {
          env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_COLORS: '0' },
          timeout: 60_000,
        },
      );
      const measured = /Overall exposure level for \S+: (\d+\.\d)/.exec(stdout);
      expect(measured, stdout.slice(-500)).not.toBeNull();
      expect(Number(measured![1]), name).toBeLessThanOrEqual(await documented(name));
    }
  });
});
