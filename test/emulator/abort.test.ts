import { connect } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { API_HEADERS, call, multipart } from './support.js';

/** Sends the head and the first part of an upload over a raw socket, then drops the connection. */
async function abandonUpload(
  emu: RunningEmulator,
  sendBytes: number,
  content = Buffer.alloc(1024 * 1024, 7),
): Promise<void> {
  const { body, contentType } = multipart([{ name: 'file', filename: 'half.bin', content }]);
  const socket = connect(emu.port, '127.0.0.1');
  await once(socket, 'connect');
  const head = [
    'POST /v1/files HTTP/1.1',
    `Host: 127.0.0.1:${emu.port}`,
    ...Object.entries(API_HEADERS).map(([k, v]) => `${k}: ${v}`),
    `Content-Type: ${contentType}`,
    `Content-Length: ${body.length}`,
    '',
    '',
  ].join('\r\n');
  socket.write(head);
  socket.write(body.subarray(0, sendBytes));
  await new Promise((resolve) => setImmediate(resolve));
  socket.destroy();
  await once(socket, 'close');
}

describe('a client that drops an upload mid-body', () => {
  it('creates no file, leaves no partial content, and the emulator keeps serving', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'files-sync-emulator-abort-'));
    const emu = await startEmulator({ dataDir: dir });
    try {
      await abandonUpload(emu, 300 * 1024);
      await expect.poll(() => emu.stats().byRoute['POST /v1/files']).toBe(1);
      // The aborted writer removes its temp file asynchronously.
      await expect.poll(async () => readdir(join(dir, 'content')), { timeout: 10_000 }).toEqual([]);
      expect(emu.files()).toEqual([]);
      expect(emu.stats().uploadsCreated).toBe(0);
      expect((await call(emu, 'GET', '/v1/files')).status).toBe(200);
    } finally {
      await emu.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an upload whose client hangs up while latencyMs holds it creates nothing and its handler ends', async () => {
    const emu = await startEmulator({ faults: { latencyMs: 400 } });
    try {
      // A small upload is sent whole, then the client goes before the emulator reads any of it.
      await abandonUpload(emu, 4096, Buffer.from('small file\n'));
      await expect.poll(() => emu.stats().byRoute['POST /v1/files']).toBe(1);
      await expect.poll(() => emu.stats().inFlight, { timeout: 10_000 }).toBe(0);
      expect(emu.files()).toEqual([]);
      expect(emu.stats().uploadsCreated).toBe(0);
    } finally {
      await emu.close();
    }
  });

  it('survives a drop right after the headers', async () => {
    const emu = await startEmulator();
    try {
      await abandonUpload(emu, 0);
      await expect.poll(() => emu.stats().byRoute['POST /v1/files']).toBe(1);
      expect((await call(emu, 'GET', '/v1/files')).json.data).toEqual([]);
    } finally {
      await emu.close();
    }
  });
});
