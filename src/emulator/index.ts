/**
 * A local emulator of Anthropic's Files API (GA contract; the beta shapes when the beta header is sent) for the demo, tests and benchmarks.
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
  EmulatorSettings,
  EmulatorStats,
  FaultOptions,
  RunningEmulator,
} from './types.js';
export { parseFaultOptions, faultOptionsSchema, type FaultKind } from './faults.js';
export { DEFAULT_WORKSPACE, FILES_API_BETA } from './auth.js';
export { EXPIRES_IN_SECONDS_MAX, EXPIRES_IN_SECONDS_MIN } from './upload.js';
export { ApiErrorResponse, DuplicateFileIdError, EmulatorError, MultipartError } from './errors.js';
