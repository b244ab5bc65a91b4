/**
 * GET /v1/events: the change stream as Server-Sent Events. Each event carries its log id, so a
 * client that reconnects with Last-Event-ID gets what it missed (from the durable log), or a
 * `reset` event when the log no longer reaches back that far. The number of streams is capped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChangeEvent } from './change-events.js';
import type { EventLog } from './event-log.js';
import { ApiRequestError, parseQuery, rawQuery } from './query.js';
import { sendError, sendThrown } from './http-util.js';

/** A comment line every so often keeps proxies and idle timeouts from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** A client that stops reading is dropped once this much is buffered for it (it can resume). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export function formatSse(e: ChangeEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

function parseLastEventId(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d{1,15}$/.test(value.trim()))
    throw new ApiRequestError(
      `Last-Event-ID: expected the id of an event (a whole number), got ${JSON.stringify(value.slice(0, 32))}`,
      400,
      'send the id of the last event you received, or nothing to start from now',
    );
  return Number(value.trim());
}

export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly log: EventLog,
    private readonly max: number,
    private readonly folderNames: () => string[],
  ) {}

  get count(): number {
    return this.open.size;
  }

  handle(req: IncomingMessage, res: ServerResponse, _url: URL): void {
    let folder: string | undefined;
    let after: number | undefined;
    try {
      const q = parseQuery(rawQuery(req), ['folder', 'lastEventId']);
      folder = q.get('folder');
      if (folder !== undefined && !this.folderNames().includes(folder))
        throw new ApiRequestError(
          `folder: no running folder ${JSON.stringify(folder.slice(0, 64))}`,
          400,
          `use one of ${this.folderNames().join(', ') || '(none running)'}`,
        );
      const header = req.headers['last-event-id'];
      after = parseLastEventId(Array.isArray(header) ? header[0] : (header ?? q.get('lastEventId')));
    } catch (err) {
      sendThrown(res, err);
      return;
    }
    if (this.open.size >= this.max) {
      sendError(
        res,
        503,
        `too many event streams (${this.max} open)`,
        'retry later, or share one stream',
        {},
      );
      return;
    }
    res.socket?.setNoDelay(true);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.open.add(res);
    const matches = (e: ChangeEvent) => folder === undefined || e.folder === folder;
    const send = (text: string) => {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        return;
      }
      res.write(text);
      // res.write() corks the socket until process.nextTick, and that tick waits for the whole
      // microtask chain that recorded the event, which may go on into a 30 MB manifest write.
      // Uncorked here, the event leaves now (the socket has noDelay: no Nagle wait either).
      res.socket?.uncork();
    };
    // Replay and subscribe in one tick: no event can fall between them.
    let head = `retry: 2000\n: last event id ${this.log.lastId}\n\n`;
    if (after !== undefined) {
      const { events, gap } = this.log.since(after, folder);
      if (gap)
        head += `event: reset\ndata: ${JSON.stringify({ reason: 'the event log no longer holds every event after that id; look up what you cached again', lastId: this.log.lastId })}\n\n`;
      for (const e of events) head += formatSse(e);
    }
    send(head);
    const off = this.log.subscribe((e) => {
      if (matches(e)) send(formatSse(e));
    });
    const beat = setInterval(() => send(': ping\n\n'), HEARTBEAT_MS);
    beat.unref();
    res.on('close', () => {
      off();
      clearInterval(beat);
      this.open.delete(res);
    });
  }

  closeAll(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}
