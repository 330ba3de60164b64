/*
 * A job as the application sees it: its id (a decimal string) and what can be asked about it.
 * Job ids are uint64 on the wire; JavaScript numbers cannot hold all of them, so the public API
 * uses decimal strings everywhere and accepts strings, numbers and bigints as input.
 */

import { ReseolioError } from './errors.js';
import { decodeArgs, decodeResult } from './payload.js';
import type { Int, JobFields, JobStatus } from './schema.js';

/** Everything known about a job (GET, CANCEL, RETRY, LIST). */
export interface JobDetails<R = unknown> {
  jobId: string;
  name: string;
  status: JobStatus;
  /** Attempts started so far. */
  attempt: number;
  maxAttempts: number;
  args: unknown[];
  /** With `success`: the handler's return value. */
  result?: R;
  /** The last error, if any attempt failed. */
  error?: string;
  idempotencyKey?: string;
  priority: number;
  createdAt: Date;
  /** When the job is (or was) next due. */
  runAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  /** A step: the job whose handler made this call. */
  parentId?: string;
  /** A step: its position among the parent's durable calls (from 0, per parent attempt). */
  step?: number;
}

/** What a job handle needs from the client. */
export interface HandleHost {
  awaitResult(jobId: string, timeoutMs?: number): Promise<unknown>;
  getJob(jobId: string): Promise<JobDetails>;
  listSteps(jobId: string): Promise<JobDetails[]>;
  cancelJob(jobId: string): Promise<JobDetails>;
}

/** A durable job: returned once it is committed to PostgreSQL. */
export class JobHandle<R = unknown> {
  constructor(
    private readonly host: HandleHost,
    /** The job id, a decimal string. */
    readonly jobId: string,
    /** True when an existing job was returned for the idempotency key. */
    readonly deduplicated = false,
  ) {}

  /**
   * The handler's return value once the job succeeded. Rejects with JobFailedError when the
   * job ends `dead` (its last error in `jobError`) or `cancelled`; with ReseolioError
   * `timeout` when timeoutMs passes first. Survives reconnections to the daemon. Awaited inside
   * a handler, it tells the daemon that the running job waits, which lends the job's worker slot
   * to steps meanwhile (so a parent never starves its own steps).
   */
  result(timeoutMs?: number): Promise<R> {
    return this.host.awaitResult(this.jobId, timeoutMs) as Promise<R>;
  }

  /** The job's current state. */
  details(): Promise<JobDetails<R>> {
    return this.host.getJob(this.jobId) as Promise<JobDetails<R>>;
  }

  /**
   * The jobs this job's handler made as its steps, in call order (by position; at one position,
   * oldest first). Empty for a job that made none.
   */
  steps(): Promise<JobDetails[]> {
    return this.host.listSteps(this.jobId);
  }

  async status(): Promise<JobStatus> {
    return (await this.details()).status;
  }

  /** Cancel a pending or running job (a running attempt's signal fires). */
  cancel(): Promise<JobDetails<R>> {
    return this.host.cancelJob(this.jobId) as Promise<JobDetails<R>>;
  }
}

const U64_MAX = (1n << 64n) - 1n;

/** A job id from the user (string, number or bigint) as a wire integer. */
export function jobIdToWire(id: string | number | bigint): Int {
  let v: bigint;
  if (typeof id === 'bigint') v = id;
  else if (typeof id === 'number' && Number.isSafeInteger(id)) v = BigInt(id);
  else if (typeof id === 'string' && /^\d{1,20}$/.test(id)) v = BigInt(id);
  else throw new ReseolioError('bad_value', `not a job id: ${String(id)}`);
  if (v < 0n || v > U64_MAX) throw new ReseolioError('bad_value', `job id out of range: ${String(id)}`);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const date = (v: Int) => new Date(Number(v));

/** A JOB (or an entry of JOBS) as JobDetails. */
export function jobDetails(j: JobFields): JobDetails {
  const d: JobDetails = {
    jobId: String(j.id),
    name: j.name,
    status: j.status,
    attempt: Number(j.attempt),
    maxAttempts: Number(j.max_attempts),
    args: decodeArgs(j.args),
    priority: Number(j.priority),
    createdAt: date(j.created_at),
    runAt: date(j.run_at),
  };
  if (j.status === 'success') d.result = decodeResult(j.result);
  if (j.error !== undefined) d.error = j.error;
  if (j.key !== undefined) d.idempotencyKey = j.key;
  if (j.started_at !== undefined) d.startedAt = date(j.started_at);
  if (j.finished_at !== undefined) d.finishedAt = date(j.finished_at);
  if (j.parent !== undefined) d.parentId = String(j.parent);
  if (j.step !== undefined) d.step = Number(j.step);
  return d;
}
