/** The /_emulator/* routes tests use to inspect and steer the emulator. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ApiErrorResponse, invalidRequest } from './errors.js';
import { parseFaultOptions } from './faults.js';
import { readJsonBody, sendJson } from './http.js';
import type { AddFileInput, EmulatorFile, EmulatorSettings, EmulatorStats, FaultOptions } from './types.js';

/** What the inspection routes read and change. */
export interface InspectableEmulator {
  files(): EmulatorFile[];
  stats(): EmulatorStats;
  faults(): FaultOptions;
  setFaults(f: FaultOptions): void;
  addFile(meta: AddFileInput): EmulatorFile;
  reset(): Promise<void>;
  advanceTime(ms: number): void;
  setStorageQuota(bytes: number | null): void;
  settings(): EmulatorSettings;
}

const addFileSchema = z.strictObject({
  id: z.string().min(1).optional(),
  filename: z.string().min(1),
  sizeBytes: z.number().int().min(0),
  mimeType: z.string().min(1).optional(),
  createdAt: z.string().optional(),
  sha256: z.string().optional(),
  downloadable: z.boolean().optional(),
  workspaceId: z.string().min(1).optional(),
  expiresAt: z.string().nullable().optional(),
});
const clockSchema = z.strictObject({ advanceMs: z.number().int().min(0) });
const quotaSchema = z.strictObject({ bytes: z.number().int().min(0).nullable() });

function validated<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof z.ZodError) throw invalidRequest(z.prettifyError(err));
    throw err;
  }
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Unauthenticated routes that let a test in another process look inside and steer the emulator:
 * GET state, GET files, POST files (seed), POST faults, POST clock ({advanceMs}), POST quota
 * ({bytes}, null lifts it), POST reset. Never faulted or counted.
 */
export async function handleInspection(
  emu: InspectableEmulator,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  method: string,
): Promise<void> {
  const route = `${method} ${url.pathname.replace(/\/$/, '')}`;
  switch (route) {
    case 'GET /_emulator/state':
      sendJson(res, 200, {
        files: emu.files().length,
        stats: emu.stats(),
        faults: emu.faults(),
        ...emu.settings(),
      });
      return;
    case 'GET /_emulator/files':
      sendJson(res, 200, { data: emu.files() });
      return;
    case 'POST /_emulator/files': {
      const body = await readJsonBody(req);
      const meta = validated(() => withoutUndefined(addFileSchema.parse(body)) as AddFileInput);
      try {
        sendJson(res, 200, emu.addFile(meta));
      } catch (err) {
        throw invalidRequest(err instanceof Error ? err.message : String(err));
      }
      return;
    }
    case 'POST /_emulator/faults': {
      const body = await readJsonBody(req);
      const faults = validated(() => parseFaultOptions(body));
      emu.setFaults(faults);
      sendJson(res, 200, { faults: emu.faults() });
      return;
    }
    case 'POST /_emulator/clock': {
      const body = await readJsonBody(req);
      const { advanceMs } = validated(() => clockSchema.parse(body));
      emu.advanceTime(advanceMs);
      sendJson(res, 200, { now: emu.settings().now });
      return;
    }
    case 'POST /_emulator/quota': {
      const body = await readJsonBody(req);
      const { bytes } = validated(() => quotaSchema.parse(body));
      emu.setStorageQuota(bytes);
      sendJson(res, 200, { storageQuotaBytes: bytes });
      return;
    }
    case 'POST /_emulator/reset':
      await emu.reset();
      sendJson(res, 200, { ok: true });
      return;
    default:
      throw new ApiErrorResponse(404, 'not_found_error', `Not found: ${route}`);
  }
}
