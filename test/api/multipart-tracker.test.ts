import { describe, expect, it } from 'vitest';
import { escapeDispositionName, streamedMultipart } from '../../src/api/multipart.js';
import { UploadTracker } from '../../src/api/upload-tracker.js';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* chunks(...xs: string[]): AsyncGenerator<Uint8Array> {
  for (const x of xs) yield Buffer.from(x);
}

describe('streamedMultipart', () => {
  it('frames the stream as the single part "file" with the exact length', async () => {
    let touched = false;
    let bytes = 0;
    const m = streamedMultipart(
      chunks('hello ', 'world'),
      'a.txt',
      'text/plain',
      11,
      () => (touched = true),
      (n) => (bytes += n),
    );
    expect(touched).toBe(false);
    const body = await collect(m.body);
    const boundary = m.contentType.split('boundary=')[1];
    expect(boundary).toBeTruthy();
    expect(body.byteLength).toBe(m.contentLength);
    expect(body.toString()).toBe(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello world\r\n--${boundary}--\r\n`,
    );
    expect(touched).toBe(true);
    expect(bytes).toBe(11);
  });

  it('has no length when the size is unknown', () => {
    expect(
      streamedMultipart(
        chunks(),
        'a',
        'x/y',
        undefined,
        () => {},
        () => {},
      ).contentLength,
    ).toBeUndefined();
  });

  it('escapes quotes and line breaks in the filename', () => {
    expect(escapeDispositionName('a"b\r\nc')).toBe('a%22b%0D%0Ac');
  });
});

describe('UploadTracker', () => {
  it('resolves only after other attempts for the key settled', async () => {
    const t = new UploadTracker();
    const key = UploadTracker.keyOf('a.txt', 3);
    let finish!: (id: string) => void;
    const other = t.track(
      key,
      new Promise<string>((r) => (finish = r)).then((id) => {
        t.claim(id);
        return id;
      }),
    );
    const seen: string[][] = [];
    const resolution = t.resolveExclusively(key, async () => {
      seen.push([...t.claimed]);
      return 'done';
    });
    await Promise.resolve();
    expect(seen).toEqual([]);
    finish('file_1');
    await other;
    await expect(resolution).resolves.toBe('done');
    expect(seen).toEqual([['file_1']]);
  });

  it('runs resolutions for one key one at a time', async () => {
    const t = new UploadTracker();
    const order: string[] = [];
    let release!: () => void;
    const first = t.resolveExclusively('k', async () => {
      order.push('first-start');
      await new Promise<void>((r) => (release = r));
      order.push('first-end');
    });
    const second = t.resolveExclusively('k', async () => {
      order.push('second');
    });
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['first-start']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first-start', 'first-end', 'second']);
  });

  it('does not block other keys or a failed predecessor', async () => {
    const t = new UploadTracker();
    await expect(t.resolveExclusively('k', async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(t.resolveExclusively('k', async () => 2)).resolves.toBe(2);
  });
});
