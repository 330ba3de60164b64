/*
 * The errors the client throws: ReseolioError for anything the protocol or the daemon reports
 * (with the wire code of docs/protocol.md §6), JobFailedError for a job that ended badly.
 */

/** The error codes of docs/protocol.md §6. */
export const ERROR_CODES = [
  'empty_frame',
  'frame_too_large',
  'malformed',
  'too_deep',
  'too_many_elements',
  'bad_envelope',
  'unknown_type',
  'missing_field',
  'bad_type',
  'bad_value',
  'handshake_required',
  'unsupported_version',
  'storage_mismatch',
  'unexpected',
  'not_found',
  'conflict',
  'stale_attempt',
  'timeout',
  'unavailable',
  'limit',
  'shutting_down',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN = new Set<string>(ERROR_CODES);

/** A wire code as the client treats it: one it does not know counts as `internal` (§6). */
export function errorCodeOf(wire: string): ErrorCode {
  return KNOWN.has(wire) ? (wire as ErrorCode) : 'internal';
}

/** An error of the protocol, the daemon or the connection to it. */
export class ReseolioError extends Error {
  /** The protocol's error code (§6). */
  readonly code: ErrorCode;
  /** True when the same request may succeed later. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, retryable = false, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReseolioError';
    this.code = code;
    this.retryable = retryable;
  }
}

/**
 * The connection to the daemon was lost (or never made) before the reply came. Code
 * `unavailable`, retryable. A request that was in flight may or may not have taken effect.
 */
export class DisconnectedError extends ReseolioError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, true, options);
    this.name = 'DisconnectedError';
  }
}

/** Why a job ended without a result. */
export type FailedStatus = 'dead' | 'cancelled';

/** `JobHandle.result()` rejects with this when the job ended `dead` or `cancelled`. */
export class JobFailedError extends Error {
  readonly jobId: string;
  readonly status: FailedStatus;
  /** The attempt that ended the job (0 if it never ran). */
  readonly attempt: number;
  /** The job's last error as the handler reported it, if any attempt failed. */
  readonly jobError: string | undefined;

  constructor(jobId: string, status: FailedStatus, attempt: number, jobError: string | undefined) {
    const what = status === 'dead' ? `failed after ${attempt} attempt(s)` : 'was cancelled';
    super(jobError !== undefined ? `job ${jobId} ${what}: ${jobError}` : `job ${jobId} ${what}`);
    this.name = 'JobFailedError';
    this.jobId = jobId;
    this.status = status;
    this.attempt = attempt;
    this.jobError = jobError;
  }
}

/**
 * Throw this from a handler to make the job `dead` at once, without further attempts. Any
 * error with a `retryable` property set to `false` has the same effect.
 */
export class NonRetryableError extends Error {
  readonly retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}
