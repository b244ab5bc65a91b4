/**
 * Asking a running daemon to act (today: release held deletes) over its loopback endpoint. The
 * daemon writes its URL and a random token to `control.json` in the state directory (0600), so
 * only who can read the state can ask; the token in a header also keeps web pages out (a browser
 * cannot send it cross-site without a preflight the endpoint never answers).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { writeFileAtomic } from './state/atomic-write.js';
import { FilesSyncError } from './errors.js';
import type { ReconcileReport } from './sync/reconcile.js';

/** File name of the daemon's control record in its state directory. */
export const CONTROL_FILE = 'control.json';

export interface ControlRecord {
  pid: number;
  url: string;
  token: string;
}

/** What one folder's release did. */
export interface ReleaseResult {
  name: string;
  status: string;
  deleted: number;
  failed: number;
  /** Deletes still held afterwards (0 unless the folder changed meanwhile). */
  heldDeletes: number;
  error?: string | undefined;
}

/** What the daemon does when asked; thrown UnknownFolderError answers 404. */
export interface ControlActions {
  token: string;
  releaseDeletes(folders: string[] | undefined): Promise<ReleaseResult[]>;
}

/** A release's result from the reconciliation that ran it (undefined: it did not run). */
export function releaseResult(name: string, report: ReconcileReport | undefined): ReleaseResult {
  if (!report)
    return {
      name,
      status: 'failed',
      deleted: 0,
      failed: 0,
      heldDeletes: 0,
      error: 'the folder stopped or its pass failed (see the log)',
    };
  return {
    name,
    status: report.status,
    deleted: report.deleted,
    failed: report.failed.length,
    heldDeletes: report.heldDeletes,
    error: report.error,
  };
}

export class UnknownFolderError extends FilesSyncError {}

export function newControlToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function writeControlRecord(stateDir: string, record: ControlRecord): Promise<void> {
  await writeFileAtomic(path.join(stateDir, CONTROL_FILE), `${JSON.stringify(record)}\n`);
}

export async function removeControlRecord(stateDir: string): Promise<void> {
  await fs.rm(path.join(stateDir, CONTROL_FILE), { force: true });
}

/** The running daemon's control record; undefined when there is none (or it cannot be read). */
export async function readControlRecord(stateDir: string): Promise<ControlRecord | undefined> {
  try {
    const r = JSON.parse(
      await fs.readFile(path.join(stateDir, CONTROL_FILE), 'utf8'),
    ) as Partial<ControlRecord>;
    if (typeof r.pid === 'number' && typeof r.url === 'string' && typeof r.token === 'string')
      return { pid: r.pid, url: r.url, token: r.token };
  } catch {
    // Absent or half-written: as if no daemon listened.
  }
  return undefined;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

async function readBody(req: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  let body = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    body += chunk.toString('utf8');
    if (body.length > limit) throw new Error('request body too large');
  }
  return body;
}

type Send = (status: number, type: string, body: string) => void;

/** Serves POST /v1/release-deletes with body `{"folders": [...]}` (optional; all folders when absent). */
export async function handleControlRequest(
  req: http.IncomingMessage,
  pathname: string,
  actions: ControlActions,
  send: Send,
): Promise<void> {
  const json = (status: number, value: unknown) =>
    send(status, 'application/json', `${JSON.stringify(value)}\n`);
  if (pathname !== '/v1/release-deletes') return json(404, { error: 'not found' });
  if (req.method !== 'POST') return json(405, { error: 'use POST' });
  if (!tokenMatches(req.headers.authorization, actions.token))
    return json(401, { error: `bearer token of ${CONTROL_FILE} in the state directory required` });
  let folders: string[] | undefined;
  try {
    const body = await readBody(req);
    const parsed = (body.trim() === '' ? {} : JSON.parse(body)) as { folders?: unknown };
    if (parsed.folders !== undefined) {
      if (!Array.isArray(parsed.folders) || !parsed.folders.every((f) => typeof f === 'string'))
        return json(400, { error: 'folders: expected an array of folder names' });
      folders = parsed.folders;
    }
  } catch (err) {
    return json(400, { error: `bad request body: ${(err as Error).message}` });
  }
  try {
    json(200, { folders: await actions.releaseDeletes(folders) });
  } catch (err) {
    if (err instanceof UnknownFolderError) return json(404, { error: err.message });
    json(500, { error: (err as Error).message });
  }
}

/** Asks the daemon of `record` to release held deletes; throws on a network error or a refusal. */
export async function requestReleaseDeletes(
  record: ControlRecord,
  folders: string[] | undefined,
): Promise<ReleaseResult[]> {
  const res = await fetch(`${record.url}/v1/release-deletes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${record.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(folders ? { folders } : {}),
  });
  const body = (await res.json().catch(() => ({}))) as { folders?: ReleaseResult[]; error?: string };
  if (!res.ok || !body.folders)
    throw new FilesSyncError(`the daemon answered ${res.status}: ${body.error ?? 'no details'}`, {
      status: res.status,
    });
  return body.folders;
}
