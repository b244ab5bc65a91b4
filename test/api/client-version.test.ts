/** Path uploads with `expected`: exactly the hashed version goes up (one buffer or 1 MiB reads), or none. */
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUFFERED_UPLOAD_MAX_BYTES } from '../../src/api/client.js';
import { SourceChangedError } from '../../src/api/errors.js';
import { clientFor, emulatorPerTest } from './support.js';

const ctx = emulatorPerTest();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function versionOf(p: string) {
  const st = await stat(p);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

describe('FilesClient.upload with the hashed version', () => {
  for (const [label, size] of [
    ['a small file (one buffer)', 1500],
    ['a large file (streamed)', BUFFERED_UPLOAD_MAX_BYTES * 2 + 99],
  ] as const) {
    it(`sends ${label} exactly and confirms the version`, async () => {
      const client = ctx.track(clientFor(ctx.emu, { maxRetries: 0 }));
      const p = join(ctx.dir, `v-${size}.bin`);
      const content = randomBytes(size);
      await writeFile(p, content);
      let confirmed = 0;
      const file = await client.upload(p, {
        filename: `v-${size}.bin`,
        expiresInSeconds: 3600,
        expected: await versionOf(p),
        onVersionSent: () => confirmed++,
      });
      expect(file.sizeBytes).toBe(size);
      expect(confirmed).toBe(1);
      expect(ctx.emu.files().find((f) => f.id === file.id)?.sha256).toBe(sha256(content));
    });
  }

  it('refuses a file changed since its hash: SourceChangedError, nothing sent', async () => {
    const client = ctx.track(clientFor(ctx.emu, { maxRetries: 0 }));
    const p = join(ctx.dir, 'changed.txt');
    await writeFile(p, 'one');
    const hashed = await versionOf(p);
    await appendFile(p, 'two');
    let confirmed = 0;
    const err = await client
      .upload(p, { filename: 'changed.txt', expected: hashed, onVersionSent: () => confirmed++ })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceChangedError);
    expect(confirmed).toBe(0);
    expect(ctx.emu.files()).toHaveLength(0);
  });
});
