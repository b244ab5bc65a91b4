/** The daemon client (src/serve/client.ts) against raw sockets that answer in every shape HTTP allows, and some it does not. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { onCleanup } from '../helpers/cleanup.js';
import { DaemonResponseError, getFromDaemon } from '../../src/serve/client.js';

/** A TCP server on loopback that answers every connection with `reply` (after the request has arrived). */
async function rawServer(reply: (socket: net.Socket, request: string) => void): Promise<number> {
  const server = net.createServer((socket) => {
    let request = '';
    socket.on('data', (d: Buffer) => {
      request += d.toString('latin1');
      if (request.includes('\r\n\r\n')) reply(socket, request);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

const tcp = (port: number) => ({ kind: 'tcp' as const, host: '127.0.0.1', port });

describe('getFromDaemon', () => {
  it('sends one GET with the token and reads a Content-Length body that arrives in pieces', async () => {
    let seen = '';
    const port = await rawServer((socket, request) => {
      seen = request;
      const body = Buffer.from('{"fileId":"file_é"}\n');
      socket.write(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
      );
      // The body split inside a two-byte UTF-8 character, then a pause: not complete until all of it is there.
      socket.write(body.subarray(0, 16));
      setImmediate(() => socket.write(body.subarray(16)));
    });
    const res = await getFromDaemon(tcp(port), '/v1/lookup?path=%2Fa', {
      token: 's3cret',
      timeoutMs: 10_000,
    });
    expect(res).toEqual({ status: 200, body: '{"fileId":"file_é"}\n' });
    expect(seen).toMatch(/^GET \/v1\/lookup\?path=%2Fa HTTP\/1\.1\r\n/);
    expect(seen).toMatch(/\r\nauthorization: Bearer s3cret\r\n/);
    expect(seen).toMatch(/\r\nConnection: close\r\n/);
  });

  it('decodes a chunked body, and a body that ends with the connection', async () => {
    const chunked = await rawServer((socket) => {
      socket.write('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"err\r\n');
      setImmediate(() => socket.end('3\r\nor"\r\n1\r\n}\r\n0\r\n\r\n'));
    });
    expect(await getFromDaemon(tcp(chunked), '/x', { timeoutMs: 10_000 })).toEqual({
      status: 404,
      body: '{"error"}',
    });
    const untilClose = await rawServer((socket) => socket.end('HTTP/1.0 200 OK\r\n\r\nall of it'));
    expect(await getFromDaemon(tcp(untilClose), '/x', { timeoutMs: 10_000 })).toEqual({
      status: 200,
      body: 'all of it',
    });
  });

  it('rejects what is not a complete HTTP answer, and a silent server after the timeout', async () => {
    const notHttp = await rawServer((socket) => socket.end('SSH-2.0-OpenSSH\r\n\r\n'));
    await expect(getFromDaemon(tcp(notHttp), '/x', { timeoutMs: 10_000 })).rejects.toThrow(
      DaemonResponseError,
    );
    const short = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    await expect(getFromDaemon(tcp(short), '/x', { timeoutMs: 10_000 })).rejects.toThrow(/shorter than/);
    const silent = await rawServer(() => undefined);
    await expect(getFromDaemon(tcp(silent), '/x', { timeoutMs: 200 })).rejects.toThrow(/no answer .* 200 ms/);
  });

  it('passes on the connection error code (nobody there)', async () => {
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    await expect(getFromDaemon(tcp(port), '/x', { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
