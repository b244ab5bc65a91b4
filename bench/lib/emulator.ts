/**
 * The emulator as benchmarks run it: in this process, on 127.0.0.1, with a hook that sees every
 * successful upload response the moment it is sent (change latency needs that instant without
 * scanning the whole file list on each upload).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createEmulatorHandler,
  serveEmulator,
  type EmulatorCore,
  type EmulatorOptions,
} from '../../src/emulator/index.js';

/** The API's answer to an upload, as the hook receives it. */
export interface UploadedFile {
  id: string;
  filename: string;
  size_bytes: number;
}

/** A running benchmark emulator. */
export interface BenchEmulator {
  url: string;
  core: EmulatorCore;
  close(): Promise<void>;
}

/** The key benchmark children send; the emulator accepts any non-empty key. */
export const BENCH_API_KEY = 'sk-ant-bench-emulator-key';

/** Starts an emulator on a random loopback port; `onUpload` runs when an upload's 200 response ends. */
export async function startBenchEmulator(
  options: { onUpload?: (file: UploadedFile, at: number) => void; emulator?: EmulatorOptions } = {},
): Promise<BenchEmulator> {
  const core = await createEmulatorHandler(options.emulator ?? {});
  const onUpload = options.onUpload;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (onUpload && req.method === 'POST' && (req.url ?? '').split('?')[0] === '/v1/files')
      watchUploadResponse(res, onUpload);
    core.handler(req, res);
  };
  const served = await serveEmulator(core, handler);
  return { url: served.url, core, close: () => served.close() };
}

function watchUploadResponse(res: ServerResponse, onUpload: (file: UploadedFile, at: number) => void): void {
  // The emulator answers with one res.end(json); keep that body to learn the new file's name and ID.
  const originalEnd = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  let body: string | undefined;
  (res as unknown as { end: (...args: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
    const chunk = args[0];
    if (typeof chunk === 'string') body = chunk;
    else if (Buffer.isBuffer(chunk)) body = chunk.toString('utf8');
    return originalEnd(...args);
  };
  res.once('finish', () => {
    if (res.statusCode !== 200 || body === undefined) return;
    const at = performance.now();
    try {
      const parsed = JSON.parse(body) as Partial<UploadedFile>;
      if (
        typeof parsed.id === 'string' &&
        typeof parsed.filename === 'string' &&
        typeof parsed.size_bytes === 'number'
      ) {
        onUpload({ id: parsed.id, filename: parsed.filename, size_bytes: parsed.size_bytes }, at);
      }
    } catch {
      // Not an upload answer after all; nothing to record.
    }
  });
}
