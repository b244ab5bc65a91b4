/**
 * A local emulator of Anthropic's Files API (beta contract) for the demo, tests and benchmarks.
 * It keeps metadata and each upload's SHA-256; content only when given a data directory.
 */
export {
  startEmulator,
  serveEmulator,
  createEmulatorHandler,
  type EmulatorCore,
  type ServedEmulator,
} from './server.js';
export type {
  AddFileInput,
  EmulatorFile,
  EmulatorOptions,
  EmulatorStats,
  FaultOptions,
  RunningEmulator,
} from './types.js';
export { parseFaultOptions, faultOptionsSchema, type FaultKind } from './faults.js';
export { FILES_API_BETA } from './auth.js';
export { ApiErrorResponse, DuplicateFileIdError, EmulatorError, MultipartError } from './errors.js';
