import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { clientForFolder, type FilesClient } from '../../src/api/client.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { clientFor, startTestEmulator } from './support.js';

// One client per folder: the folder's workspace and upload expiry, over the root's connections.
let emu: RunningEmulator | undefined;
let root: FilesClient | undefined;
afterEach(async () => {
  await root?.close();
  await emu?.close();
  root = undefined;
  emu = undefined;
});

function body(text: string): { stream: Readable; size: number } {
  return { stream: Readable.from([Buffer.from(text)]), size: text.length };
}

describe('clientForFolder', () => {
  it('sends the folder workspace and expiry, inherits the root workspace, and shares connections', async () => {
    const server = await startTestEmulator({ gaOnly: true, workspaces: ['wrkspc_main', 'wrkspc_legal'] });
    emu = server;
    const main = clientFor(server, { workspaceId: 'wrkspc_main' });
    root = main;
    const legal = clientForFolder(main, { workspaceId: 'wrkspc_legal', expiresInSeconds: 86_400 });
    const plain = clientForFolder(main, {});
    const expiring = clientForFolder(main, { expiresInSeconds: 3600 });
    expect(plain).toBe(main);
    expect(clientForFolder(main, { workspaceId: 'wrkspc_legal', expiresInSeconds: 86_400 })).toBe(legal);

    const l = await legal.upload(body('legal'), { filename: 'l.txt' });
    const m = await main.upload(body('main'), { filename: 'm.txt' });
    const e = await expiring.upload(body('temp'), { filename: 'e.txt' });
    expect(Date.parse(l.expiresAt ?? '') - Date.parse(l.createdAt)).toBe(86_400_000);
    expect(m.expiresAt).toBeNull();
    expect(Date.parse(e.expiresAt ?? '') - Date.parse(e.createdAt)).toBe(3_600_000);
    const where = Object.fromEntries(server.files().map((f) => [f.filename, f.workspaceId]));
    expect(where).toEqual({ 'l.txt': 'wrkspc_legal', 'm.txt': 'wrkspc_main', 'e.txt': 'wrkspc_main' });

    // A view's close leaves the shared connections open for the others.
    await legal.close();
    expect((await main.retrieveMany([m.id, l.id])).map((f) => f.id)).toEqual([m.id]);
    expect((await legal.retrieveMany([m.id, l.id])).map((f) => f.id)).toEqual([l.id]);
  });

  it('passes a non-FilesClient (a test double) through unchanged', () => {
    const fake = { upload: () => Promise.resolve() };
    expect(clientForFolder(fake, { workspaceId: 'wrkspc_x' })).toBe(fake);
  });
});
