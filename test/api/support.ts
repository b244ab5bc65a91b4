import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesClient, type FilesClientOptions } from '../../src/api/client.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/index.js';

/** A key that must never show up in any error or log. */
export const TEST_API_KEY = 'sk-ant-test-key-5f4dcc3b5aa765d61d8327deb882cf99';

/** Starts an emulator that accepts only TEST_API_KEY. */
export function startTestEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ apiKey: TEST_API_KEY, ...options });
}

/** A client with fast backoff for tests. */
export function clientFor(emu: { url: string }, overrides: Partial<FilesClientOptions> = {}): FilesClient {
  return new FilesClient({
    apiKey: TEST_API_KEY,
    baseUrl: emu.url,
    backoffBaseMs: 2,
    maxBackoffMs: 20,
    timeoutMs: 30_000,
    ...overrides,
  });
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function pollUntil(check: () => boolean, timeoutMs = 20_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A fresh temp directory and its cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'files-sync-api-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every place an error could carry a secret: message, stack, context and its JSON form. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const ctx = (err as { context?: unknown }).context;
  return [err.message, err.stack ?? '', JSON.stringify(ctx ?? {}), JSON.stringify(err), String(err)].join(
    '\n',
  );
}

/**
 * A fresh emulator per test, one temp dir per file and the clients a test `track`s closed after
 * it: the hooks every emulator-backed client test repeats.
 */
export function emulatorPerTest(): {
  readonly emu: RunningEmulator;
  readonly dir: string;
  track(client: FilesClient): FilesClient;
} {
  let emu: RunningEmulator | undefined;
  let tmp: { dir: string; cleanup: () => Promise<void> } | undefined;
  const clients: FilesClient[] = [];
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });
  beforeEach(async () => {
    emu = await startTestEmulator();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await emu?.close();
  });
  return {
    get emu() {
      return emu!;
    },
    get dir() {
      return tmp!.dir;
    },
    track(client) {
      clients.push(client);
      return client;
    },
  };
}
