/*
 * reseolio: durable execution for Node.js backends, the client of reseoliod.
 * The public API; everything else in this package is internal.
 */

export { Reseolio, type DurableFunction, type ReseolioEvents, type ReseolioOptions } from './client.js';
export { JobHandle, type JobDetails } from './job-handle.js';
export { CALL_OPTION_KEYS, namespace, splitCallArgs, type CallOptions, type DurableOptions } from './options.js';
export { AbandonedError, type JobContext, type JobInfo } from './worker.js';
export { DisconnectedError, JobFailedError, NonRetryableError, ReseolioError, type ErrorCode, type FailedStatus } from './errors.js';
export type { Backoff, JobStatus, StatisticsFields, StatsFunctionFields, StatsNodeFields, StatsQueueFields } from './schema.js';
export { resolveSocketPath } from './daemon.js';
export {
  ScheduleHandle,
  defaultScheduleName,
  SCHEDULE_OPTION_KEYS,
  type ScheduleDetails,
  type ScheduleOptions,
  type ScheduleSpec,
  type Weekday,
} from './schedule.js';
