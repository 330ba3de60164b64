/*
 * reseolio: durable execution for Node.js backends, the client of reseoliod.
 * The public API; everything else in this package is internal.
 */

export { DisconnectedError, JobFailedError, NonRetryableError, ReseolioError, type ErrorCode, type FailedStatus } from './errors.js';
