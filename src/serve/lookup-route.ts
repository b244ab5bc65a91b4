/** GET /v1/lookup?folder=NAME&path=REL | ?path=/absolute/path [&wait=SECONDS]: one path's file ID, state and block. */
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiRequestError, checkRelativePath, parseQuery, parseWaitSeconds, rawQuery } from './query.js';
import { lookupLive, type FailureBook, type LiveLookup, type LookupFolder } from './lookup.js';
import { locateIn } from './locate.js';
import { sendError, sendJson, sendThrown } from './http-util.js';

/** What the lookup route needs of the hub (ServeHub): the running folders, failures, outcomes. */
export interface LookupSource {
  readonly failures: FailureBook;
  folderList(): LookupFolder[];
  folder(name: string): LookupFolder | undefined;
  onAnyOutcome(listener: (folder: string, path: string | undefined) => void): () => void;
}

/** The longest a lookup may wait for a pending path to sync. */
export const MAX_WAIT_SECONDS = 300;
/** How often a waiting lookup re-checks even without an outcome (an edit the watcher has not reported). */
const WAIT_POLL_MS = 250;

/** Which folder and relative path a lookup names; ApiRequestError (400) when it names none. */
export function resolveTarget(
  folders: LookupFolder[],
  folderName: string | undefined,
  target: string | undefined,
): { folder: LookupFolder; rel: string } {
  if (target === undefined)
    throw new ApiRequestError(
      'path is missing',
      400,
      'add path=REL with folder=NAME, or path=/absolute/path',
    );
  const named = folderName === undefined ? undefined : folders.find((f) => f.name === folderName);
  if (folderName !== undefined && !named)
    throw new ApiRequestError(
      `folder: no running folder ${JSON.stringify(folderName.slice(0, 64))}`,
      400,
      `use one of ${folders.map((f) => f.name).join(', ') || '(none running)'}`,
    );
  if (target.startsWith('/')) {
    if (target.includes('\0')) throw new ApiRequestError('path: contains a NUL character', 400, 'remove it');
    if (target.split('/').includes('..'))
      throw new ApiRequestError('path: contains a ".." segment', 400, 'give the absolute path without ".."');
    const where = locateIn(
      (named ? [named] : folders).map((f) => ({ path: f.root, f })),
      path.resolve(target),
    );
    if (!where)
      throw new ApiRequestError(
        `path is outside ${named ? `folder "${named.name}"` : 'every configured folder'}`,
        400,
        `give a path under ${(named ? [named] : folders).map((f) => f.root).join(', ')}`,
      );
    return { folder: where.folder.f, rel: checkRelativePath(where.rel) };
  }
  const folder = named ?? (folders.length === 1 ? folders[0] : undefined);
  if (!folder)
    throw new ApiRequestError(
      'path is relative but no folder is named',
      400,
      `add folder=NAME (one of ${folders.map((f) => f.name).join(', ')}) or give an absolute path`,
    );
  return { folder, rel: checkRelativePath(target) };
}

export function handleLookup(hub: LookupSource, req: IncomingMessage, res: ServerResponse, _url: URL): void {
  let folder: LookupFolder;
  let rel: string;
  let wait: number | undefined;
  try {
    const q = parseQuery(rawQuery(req), ['folder', 'path', 'wait']);
    wait = parseWaitSeconds(q.get('wait'), MAX_WAIT_SECONDS);
    ({ folder, rel } = resolveTarget(hub.folderList(), q.get('folder'), q.get('path')));
  } catch (err) {
    sendThrown(res, err);
    return;
  }
  const answer = (found: LiveLookup, timedOut: boolean) => {
    if (timedOut) {
      const state = found.found
        ? found.result
        : { folder: folder.name, path: rel, state: found.state, reason: found.reason };
      sendJson(res, 408, {
        error: `still ${found.found ? found.result.state : found.state} after ${wait} s`,
        ...state,
      });
    } else if (found.found) sendJson(res, 200, found.result);
    else
      sendError(res, 404, `${rel} is not synced in folder "${folder.name}"`, undefined, {
        folder: folder.name,
        path: rel,
        state: found.state,
        reason: found.reason,
      });
  };
  const run =
    wait === undefined || wait === 0
      ? lookupLive(folder, rel, hub.failures).then((f) => answer(f, false))
      : waitForSync(hub, folder, rel, wait * 1000, req).then(({ found, timedOut }) =>
          answer(found, timedOut),
        );
  run.catch((err: unknown) => sendThrown(res, err));
}

/** True while a lookup is still worth waiting on: the path is pending (or not uploaded yet). */
function isPending(found: LiveLookup): boolean {
  return found.found ? found.result.state === 'pending' : found.state === 'pending';
}

/**
 * Re-checks the path after every outcome of its folder and every WAIT_POLL_MS, until it is no
 * longer pending, the time is up, or the client went away.
 */
async function waitForSync(
  hub: LookupSource,
  folder: LookupFolder,
  rel: string,
  ms: number,
  req: IncomingMessage,
): Promise<{ found: LiveLookup; timedOut: boolean }> {
  const deadline = Date.now() + ms;
  let wake: (() => void) | undefined;
  const off = hub.onAnyOutcome((name, p) => {
    if (name === folder.name && (p === undefined || p === rel)) wake?.();
  });
  let gone = false;
  const onClose = () => {
    gone = true;
    wake?.();
  };
  req.socket.once('close', onClose);
  try {
    for (;;) {
      const current = hub.folder(folder.name) ?? folder;
      const found = await lookupLive(current, rel, hub.failures);
      if (!isPending(found)) return { found, timedOut: false };
      const left = deadline - Date.now();
      if (left <= 0 || gone) return { found, timedOut: true };
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(WAIT_POLL_MS, left));
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  } finally {
    off();
    req.socket.off('close', onClose);
  }
}
