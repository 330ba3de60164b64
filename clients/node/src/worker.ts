/*
 * Running dispatched jobs: DISPATCH → the user's handler (inside an AsyncLocalStorage context
 * that carries the job id, attempt and abort signal) → ACK; ABANDON → the signal fires. While
 * stopping: a new DISPATCH is handed back at once, and what still runs at the end is aborted
 * and handed back (ACK release: the attempt does not count).
 */

import { AsyncLocalStorage } from 'node:async_hooks';

import type { Connection } from './connection.js';
import { ReseolioError } from './errors.js';
import { decodeArgs, encodeResult } from './payload.js';
import { MAX_ERROR, type AbandonFields, type AbandonReason, type AckFields, type DispatchFields } from './schema.js';

/** What a handler can learn about the job it runs (`Reseolio.currentJob()`). */
export interface JobContext {
  readonly jobId: string;
  readonly name: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** When this attempt times out. */
  readonly deadline: Date;
  /** Fires when the attempt is abandoned: timeout, cancellation, shutdown or lost connection. */
  readonly signal: AbortSignal;
}

/** The job an event is about. */
export interface JobInfo {
  readonly jobId: string;
  readonly name: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly args: unknown[];
}

/** The reason an attempt's signal carries. */
export class AbandonedError extends Error {
  constructor(
    readonly reason: AbandonReason | 'disconnected',
    message: string,
  ) {
    super(message);
    this.name = 'AbandonedError';
  }
}

/**
 * The attempt a handler runs, as the client tracks it: its public context, the worker that runs
 * it (only calls through that worker's client are its steps) and the position its next step
 * takes. Positions count from 0 per attempt, in call order, so a retried handler that calls its
 * steps in the same order finds them again.
 */
export interface ActiveJob {
  readonly context: JobContext;
  readonly worker: Worker;
  nextStep: number;
}

export const jobStorage = new AsyncLocalStorage<ActiveJob>();

export type Handler = (...args: any[]) => unknown;

/** What the worker needs from the client. */
export interface WorkerHost {
  handler(name: string): Handler | undefined;
  emit(event: string, ...args: unknown[]): boolean;
}

interface Running {
  controller: AbortController;
  /** No ACK of an outcome is sent any more: the daemon gave up on it, or it was handed back. */
  abandoned: boolean;
  timer: NodeJS.Timeout | undefined;
  done: Promise<void>;
  dispatch: DispatchFields;
  info: JobInfo;
}

type Outcome = { ok: true; value: unknown; result: Uint8Array | undefined } | { ok: false; err: unknown; retryable: boolean };

/** A job's error as ACK carries it: at most 65536 bytes of well-formed text without NUL. */
export function errorText(err: unknown): string {
  let s: string;
  if (err instanceof Error) s = err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  else s = String(err);
  s = s.replace(/\0/g, '\\0').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if (Buffer.byteLength(s, 'utf8') > MAX_ERROR) s = Buffer.from(s, 'utf8').subarray(0, MAX_ERROR - 3).toString('utf8');
  return s || 'error';
}

/** The job a DISPATCH is about, before its arguments are decoded. */
function jobInfo(d: DispatchFields): JobInfo {
  return { jobId: String(d.job), name: d.name, attempt: Number(d.attempt), maxAttempts: Number(d.max_attempts), args: [] };
}

/** Whether a handler's error allows another attempt: not when it says `retryable: false`. */
function isRetryable(err: unknown): boolean {
  return !(typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false);
}

/** Runs the jobs dispatched to this process. */
export class Worker {
  private readonly running = new Map<string, Running>();
  private readonly acks = new Set<Promise<void>>();
  /** True once stop began: new dispatches are handed back at once, unstarted. */
  draining = false;

  constructor(
    private readonly host: WorkerHost,
    private conn: Connection,
  ) {}

  /** The connection ACKs go to (after a reconnect, the new one). */
  attach(conn: Connection): void {
    this.conn = conn;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Resolves when every running handler has finished and its ACK was answered. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.acks.size > 0) {
      await Promise.allSettled([...[...this.running.values()].map((r) => r.done), ...this.acks]);
    }
  }

  onDispatch(d: DispatchFields): void {
    const key = `${d.job}:${d.attempt}`;
    if (this.running.has(key)) return; // a duplicate dispatch of the same attempt
    if (this.draining) {
      // sent before the daemon read our REGISTER concurrency 0: give it to another worker
      void this.release(this.conn, d, jobInfo(d));
      return;
    }
    const controller = new AbortController();
    const wait = Number(d.deadline) - Date.now();
    // The daemon sends ABANDON on timeout too; the local timer makes the signal exact.
    const timer =
      wait > 0 && wait < 2 ** 31
        ? setTimeout(() => controller.abort(new AbandonedError('timeout', `attempt ${d.attempt} of job ${d.job} timed out`)), wait)
        : undefined;
    timer?.unref();
    const entry: Running = { controller, abandoned: false, timer, done: Promise.resolve(), dispatch: d, info: jobInfo(d) };
    this.running.set(key, entry);
    entry.done = this.run(d, entry).finally(() => {
      if (entry.timer) clearTimeout(entry.timer);
      this.running.delete(key);
    });
  }

  onAbandon(a: AbandonFields): void {
    const r = this.running.get(`${a.job}:${a.attempt}`);
    if (!r) return;
    r.abandoned = true;
    r.controller.abort(new AbandonedError(a.reason, `attempt ${a.attempt} of job ${a.job} abandoned: ${a.reason}`));
  }

  /** Abort every running attempt; their ACKs are not sent. */
  abandonAll(reason: AbandonReason | 'disconnected', message: string): void {
    for (const r of this.running.values()) {
      r.abandoned = true;
      r.controller.abort(new AbandonedError(reason, message));
    }
  }

  /**
   * Stop's end: abort every attempt still running (signal reason `shutdown`) and hand each back
   * to the daemon unfinished (ACK release: pending again at once, the attempt not counted).
   * Resolves when the daemon answered every release (or the connection ended).
   */
  async releaseAll(message: string): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const r of this.running.values()) {
      if (r.abandoned) continue;
      r.abandoned = true;
      r.controller.abort(new AbandonedError('shutdown', message));
      releases.push(this.release(this.conn, r.dispatch, r.info));
    }
    await Promise.all(releases);
  }

  /** Resolves when every ACK sent so far was answered (or the connection ended). */
  async acked(): Promise<void> {
    while (this.acks.size > 0) await Promise.allSettled([...this.acks]);
  }

  /** Send ACK release for one attempt; resolves once answered (errors become events). */
  private release(conn: Connection, a: DispatchFields, info: JobInfo): Promise<void> {
    const p = new Promise<void>((resolve) => {
      conn.send('ACK', { job: a.job, attempt: a.attempt, ok: false, release: true }, (err) => {
        resolve();
        // stale_attempt (it timed out or was cancelled meanwhile) or a lost connection: the
        // daemon decides what happens to it
        if (err) this.host.emit('job:ack-failed', info, err);
        else this.host.emit('job:released', info);
      });
    });
    this.acks.add(p);
    void p.then(() => this.acks.delete(p));
    return p;
  }

  private async run(d: DispatchFields, entry: Running): Promise<void> {
    const jobId = String(d.job);
    const attempt = Number(d.attempt);
    const maxAttempts = Number(d.max_attempts);
    const conn = this.conn;
    let info: JobInfo = entry.info;
    let outcome: Outcome;
    try {
      const args = decodeArgs(d.args);
      info = { ...info, args };
      entry.info = info;
      const handler = this.host.handler(d.name);
      this.host.emit('job:start', info);
      if (!handler) throw new ReseolioError('not_found', `no handler for ${d.name} in this process`, true);
      const ctx: JobContext = {
        jobId,
        name: d.name,
        attempt,
        maxAttempts,
        deadline: new Date(Number(d.deadline)),
        signal: entry.controller.signal,
      };
      const active: ActiveJob = { context: ctx, worker: this, nextStep: 0 };
      const value = await jobStorage.run(active, () => handler(...args));
      outcome = { ok: true, value, result: value === undefined ? undefined : encodeResult(value, `the result of ${d.name}`) };
    } catch (err) {
      // undecodable arguments or an unencodable result will not improve on a retry
      const retryable = isRetryable(err) && !(err instanceof ReseolioError && err.code === 'bad_value');
      outcome = { ok: false, err, retryable };
      this.host.emit('job:error', info, err);
    }
    if (entry.abandoned || !conn.isOpen) return; // the daemon expects no ACK for this attempt
    const fields: AckFields = outcome.ok
      ? { job: d.job, attempt: d.attempt, ok: true, ...(outcome.result ? { result: outcome.result } : {}) }
      : { job: d.job, attempt: d.attempt, ok: false, error: errorText(outcome.err), retryable: outcome.retryable };
    const o = outcome;
    const done = info;
    // The events follow from the reply at once, before anything read after it (a DISPATCH of
    // the next attempt), so that they come in the order of the job's life.
    let settled = false; // send() may answer at once (closed connection, encoding error)
    const ack = new Promise<void>((resolve) => {
      conn.send('ACK', fields, (err) => {
        settled = true;
        resolve();
        // stale_attempt (timed out or cancelled meanwhile) or a lost connection: the outcome
        // was not recorded and the daemon decides what happens next
        if (err) this.host.emit('job:ack-failed', done, err);
        else if (o.ok) this.host.emit('job:success', done, o.value);
        else if (o.retryable && attempt < maxAttempts) this.host.emit('job:retry', done, o.err);
        else this.host.emit('job:dead', done, o.err);
      });
    });
    if (!settled) {
      this.acks.add(ack);
      void ack.then(() => this.acks.delete(ack));
    }
    await ack;
  }
}
