/** A streamed multipart/form-data body for uploads whose source is a stream, not a path. */
import { randomBytes } from 'node:crypto';

/** A multipart/form-data body built around a stream, with its content type and (when known) length. */
export interface StreamedMultipart {
  contentType: string;
  contentLength: number | undefined;
  body: AsyncIterable<Uint8Array>;
}

/** Escapes a filename for a Content-Disposition header the way browsers and undici do. */
export function escapeDispositionName(name: string): string {
  return name.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

/**
 * Wraps `source` as the part `file` of a multipart body without buffering it, after the small text
 * `fields` (e.g. expires_in_seconds); `size`, when given, lets us send a Content-Length.
 * `onFirstRead` fires once the source starts being consumed.
 */
export function streamedMultipart(
  source: AsyncIterable<Uint8Array>,
  filename: string,
  mimeType: string,
  size: number | undefined,
  onFirstRead: () => void,
  onBytes: (n: number) => void,
  fields: readonly (readonly [string, string])[] = [],
): StreamedMultipart {
  const boundary = `----files-sync-${randomBytes(12).toString('hex')}`;
  const fieldParts = fields
    .map(
      ([name, value]) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${escapeDispositionName(name)}"\r\n\r\n${value}\r\n`,
    )
    .join('');
  const head = Buffer.from(
    fieldParts +
      `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="file"; filename="${escapeDispositionName(filename)}"\r\n` +
      `Content-Type: ${mimeType}\r\n\r\n`,
    'utf8',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  async function* body(): AsyncGenerator<Uint8Array> {
    yield head;
    onFirstRead();
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      onBytes(bytes.byteLength);
      yield bytes;
    }
    yield tail;
  }
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: size === undefined ? undefined : head.byteLength + size + tail.byteLength,
    body: body(),
  };
}
