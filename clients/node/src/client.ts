/*
 * The Reseolio class: the seed README's API over one connection to the host's daemon, which it
 * starts when absent; reconnects by itself, registering its workers again and keeping every
 * pending result() waiting.
 */

import { EventEmitter } from 'node:events';

import { encodeFrame } from './codec.js';
import { Connection, type ReplyOf, type RequestType } from './connection.js';
import { ensureDaemon, resolveSocketPath } from './daemon.js';
import { DisconnectedError, JobFailedError, ReseolioError } from './errors.js';
import { JobHandle, jobDetails, jobIdToWire, type HandleHost, type JobDetails } from './job-handle.js';
import { checkName, enqueueFields, inOptionTerms, isDetached, namespace, splitCallArgs, type CallOptions, type DurableOptions } from './options.js';
import { decodeResult, encodeArgs } from './payload.js';
import {
  ScheduleHandle,
  checkScheduleName,
  daily,
  defaultScheduleName,
  everyMinute,
  hourly,
  inScheduleTerms,
  scheduleDetails,
  schedulePutFields,
  splitScheduleArgs,
  weekly,
  type ScheduleDetails,
  type ScheduleHost,
  type ScheduleOptions,
  type ScheduleSpec,
} from './schedule.js';
import { MAX_CONCURRENCY, MAX_LIST, MAX_REGISTER, type FieldsOf, type Int, type JobStatus, type MessageOf, type StatisticsFields } from './schema.js';
import { Worker, jobStorage, type ActiveJob, type Handler, type JobContext, type JobInfo } from './worker.js';

const VERSION = '0.1.0';

export interface ReseolioOptions {
  /** The PostgreSQL the application uses (libpq URL or conninfo). The daemon must serve the same one. */
  storage?: string;
  /** The daemon's socket; default by the rule of docs/protocol.md §1. */
  socket?: string;
  /** Start reseoliod (detached, shared by the host) when none answers. Default true. */
  autoStart?: boolean;
  /** The reseoliod binary for autoStart; default $RESEOLIO_DAEMON, the repo's build/, then $PATH. */
  daemonPath?: string;
  /** Jobs this process runs at once, over all its durable functions. Default 10. */
  workerConcurrency?: number;
  /** Time allowed to start the daemon / connect to it. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** stop(): how long running jobs may take to finish before they are abandoned. Default 10000 ms. */
  stopTimeoutMs?: number;
  /** Most requests awaiting a reply at once (pending result() calls included). Default 100000. */
  maxPending?: number;
}

/** The events of a Reseolio instance and their arguments. */
export interface ReseolioEvents {
  /** A handler of this process starts an attempt. */
  'job:start': [job: JobInfo];
  /** Its success was recorded. */
  'job:success': [job: JobInfo, result: unknown];
  /** The handler threw (emitted at once, before the failure is recorded). */
  'job:error': [job: JobInfo, error: unknown];
  /** The failure was recorded and another attempt will follow. */
  'job:retry': [job: JobInfo, error: unknown];
  /** The failure was recorded and the job is dead (attempts used up, or not retryable). */
  'job:dead': [job: JobInfo, error: unknown];
  /** An outcome could not be recorded (the attempt was stale, or the connection was lost). */
  'job:ack-failed': [job: JobInfo, error: unknown];
  /** stop() handed this attempt back unfinished; it runs again elsewhere, not counted. */
  'job:released': [job: JobInfo];
  /** This instance started reseoliod. */
  'daemon:started': [pid: number];
  /** The connection to the daemon was lost; reconnection follows. */
  disconnected: [reason: Error];
  /** Connected again (workers registered again). */
  reconnected: [];
  /** Something the daemon sent could not be used, or a background request failed. */
  warning: [error: Error];
}

/** A handler's arguments and resolved return type. */
type Args<H> = H extends (...args: infer A) => unknown ? A : never;
type Result<H> = H extends (...args: never[]) => infer R ? Awaited<R> : never;

/** What durable() returns: call it like the handler to enqueue a job. */
export interface DurableFunction<A extends unknown[], R> {
  /** Enqueue; a trailing options object is recognised by the rule of `splitCallArgs`. */
  (...args: A | [...A, CallOptions]): Promise<JobHandle<R>>;
  /** The function name jobs are enqueued under. */
  readonly durableName: string;
  /** The options given to durable(). */
  readonly options: Readonly<DurableOptions>;
  /** The same function with per-call options bound: `fn.withOptions({ idempotencyKey })(a, b)`. */
  withOptions(options: CallOptions): (...args: A) => Promise<JobHandle<R>>;
  /** Explicit form: the arguments as an array, the options apart. */
  enqueue(args: A, options?: CallOptions): Promise<JobHandle<R>>;
  /**
   * Run this function on a durable cron schedule: `fn.schedule('0 9 * * *', ...args)`, with
   * trailing ScheduleOptions by the per-call options rule, or `fn.schedule({ cron, args, zone,
   * name, paused, ...runOptions })`. Idempotent by schedule name (default
   * `defaultScheduleName(function, cron, zone)`): calling it again, also after a restart, updates
   * the same schedule. Resolves once the schedule is committed.
   */
  schedule(cron: string, ...args: A | [...A, ScheduleOptions]): Promise<ScheduleHandle>;
  schedule(spec: ScheduleSpec<A>): Promise<ScheduleHandle>;
}

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Definition {
  handler: Handler;
  options: DurableOptions;
}

export interface Reseolio {
  on<E extends keyof ReseolioEvents>(event: E, listener: (...args: ReseolioEvents[E]) => void): this;
  once<E extends keyof ReseolioEvents>(event: E, listener: (...args: ReseolioEvents[E]) => void): this;
  off<E extends keyof ReseolioEvents>(event: E, listener: (...args: ReseolioEvents[E]) => void): this;
  emit<E extends keyof ReseolioEvents>(event: E, ...args: ReseolioEvents[E]): boolean;
}

/** Durable execution for this process: define durable functions, enqueue them, run them. */
export class Reseolio extends EventEmitter {
  private readonly opts: ReseolioOptions;
  private readonly socketPath: string;
  private readonly concurrency: number;
  private readonly defs = new Map<string, Definition>();
  private state: State = 'idle';
  private conn: Connection | undefined;
  private worker: Worker | undefined;
  private starting: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private registerScheduled = false;
  private registered = new Set<string>();
  /** 'up' when a session is ready, 'stopped' at stop(): what ready() waits for. */
  private readonly internal = new EventEmitter();
  private readonly host: HandleHost = {
    awaitResult: (id, t) => this.awaitResult(id, t),
    getJob: (id) => this.getJob(id),
    listSteps: (id) => this.listSteps(id),
    cancelJob: (id) => this.cancelJob(id),
  };
  private readonly scheduleHost: ScheduleHost = {
    getSchedule: (n) => this.getSchedule(n),
    pauseSchedule: (n) => this.pauseSchedule(n),
    resumeSchedule: (n) => this.resumeSchedule(n),
    deleteSchedule: (n) => this.deleteSchedule(n),
  };

  constructor(options: ReseolioOptions = {}) {
    super();
    this.opts = { ...options };
    this.socketPath = resolveSocketPath(options.socket);
    const c = options.workerConcurrency ?? 10;
    if (!Number.isInteger(c) || c < 1 || c > MAX_CONCURRENCY) {
      throw new RangeError(`workerConcurrency must be an integer in 1..${MAX_CONCURRENCY}`);
    }
    this.concurrency = c;
    this.internal.setMaxListeners(0); // one listener per waiting call during a reconnection
  }

  /** Cron `* * * * *`: every minute. */
  static everyMinute(): string {
    return everyMinute();
  }

  /** Cron `M * * * *`: every hour at minute (0–59, default 0). */
  static hourly(minute?: number): string {
    return hourly(minute);
  }

  /** Cron `M H * * *`: every day at `"HH:MM"` (default `"00:00"`) in the schedule's zone. */
  static daily(time?: string): string {
    return daily(time);
  }

  /** Cron `M H * * D`: every week on day (`'mon'`, `'monday'`, 0–7) at `"HH:MM"` (default `"00:00"`). */
  static weekly(day: string | number, time?: string): string {
    return weekly(day, time);
  }

  /** The job the calling handler runs (through AsyncLocalStorage), or undefined outside one. */
  static currentJob(): JobContext | undefined {
    return jobStorage.getStore()?.context;
  }

  /** The socket this instance talks to. */
  get socket(): string {
    return this.socketPath;
  }

  /** WELCOME from the daemon: node id, server, max_frame, storage. Undefined when not connected. */
  get daemon(): { node: string; server: string; storage: string; maxFrame: number } | undefined {
    const w = this.conn?.welcome;
    return w && { node: w.node, server: w.server, storage: w.storage, maxFrame: Number(w.max_frame) };
  }

  /** `namespace('billing', 'invoice', 'send')` → `'billing:invoice:send'`. */
  namespace(...parts: string[]): string {
    return namespace(...parts);
  }

  /**
   * Connect to the host's daemon (starting it when absent and autoStart is on) and register
   * the durable functions defined so far as this process's workers.
   */
  start(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') {
      return Promise.reject(new ReseolioError('shutting_down', 'this Reseolio instance was stopped; create a new one'));
    }
    this.starting ??= (async () => {
      this.state = 'starting';
      try {
        const conn = await this.connect();
        this.attach(conn);
        await this.register(conn);
        this.state = 'running';
        this.internal.emit('up');
      } catch (e) {
        this.state = 'idle';
        this.starting = undefined;
        this.conn?.close();
        this.conn = undefined;
        throw e;
      }
    })();
    return this.starting;
  }

  /**
   * Stop gracefully: take no new jobs (REGISTER concurrency 0; a job dispatched meanwhile is
   * handed back at once), let running ones finish and their outcomes be committed (up to
   * timeoutMs, default stopTimeoutMs), then abort the rest (their signal fires with reason
   * `shutdown`) and hand them back to the daemon unfinished: they run again on another worker
   * without spending an attempt. Then close. Pending result() calls reject with `shutting_down`.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped') return;
    const limit = options.timeoutMs ?? this.opts.stopTimeoutMs ?? 10_000;
    if (!(Number.isInteger(limit) && limit >= 0)) throw new RangeError('stop({ timeoutMs }): timeoutMs must be a non-negative integer');
    if (this.state === 'starting') await this.starting?.catch(() => undefined);
    if (this.state === 'stopping') return this.stopped;
    this.state = 'stopping';
    this.stopped = this.drainAndClose(limit);
    return this.stopped;
  }

  /** stop()'s work, once. */
  private async drainAndClose(limit: number): Promise<void> {
    const worker = this.worker;
    const conn = this.conn;
    if (worker) {
      worker.draining = true;
      const end = Date.now() + limit;
      const left = () => Math.max(0, end - Date.now());
      const names = [...this.registered].slice(0, MAX_REGISTER);
      if (conn?.isOpen && names.length > 0) {
        // The daemon dispatches nothing after this; what it sent before is handed back.
        await bounded(conn.request('REGISTER', { names, concurrency: 0 }), left()).catch((e: Error) => this.emit('warning', e));
      }
      await bounded(worker.idle(), left());
      // Hand back what still runs; wait for the daemon to take it and the last outcomes.
      await bounded(worker.releaseAll('the worker is stopping').then(() => worker.acked()), this.opts.connectTimeoutMs ?? 10_000);
    }
    this.state = 'stopped';
    this.conn?.close(new ReseolioError('shutting_down', 'the Reseolio client was stopped'));
    this.conn = undefined;
    this.internal.emit('stopped');
  }

  /**
   * Make handler durable under name. Returns a function that, called like the handler,
   * enqueues a job and resolves to its JobHandle once the job is committed. One definition
   * per name per instance.
   */
  durable<H extends (...args: any[]) => unknown>(name: string, handler: H, options: DurableOptions = {}): DurableFunction<Args<H>, Result<H>> {
    checkName(name);
    if (typeof handler !== 'function') throw new TypeError('durable() needs a handler function');
    if (this.defs.has(name)) throw new ReseolioError('conflict', `a durable function named ${JSON.stringify(name)} is already defined`);
    try {
      enqueueFieldsCheck(name, options);
    } catch (e) {
      throw inOptionTerms(e);
    }
    const opts = Object.freeze({ ...options });
    this.defs.set(name, { handler, options: opts });
    if (this.conn) this.scheduleRegister();

    type A = Args<H>;
    type R = Result<H>;
    const call = (args: unknown[], callOpts?: CallOptions) => this.enqueueWith<R>(name, args, opts, callOpts);
    const fn = ((...args: unknown[]) => {
      const split = splitCallArgs(handler.length, args);
      return call(split.args, split.options);
    }) as unknown as DurableFunction<A, R>;
    Object.defineProperty(fn, 'name', { value: name });
    Object.defineProperties(fn, {
      durableName: { value: name, enumerable: true },
      options: { value: opts, enumerable: true },
      withOptions: { value: (o: CallOptions) => (...args: A) => call(args, o) },
      enqueue: { value: (args: A, o?: CallOptions) => call(args, o) },
      schedule: {
        value: (...params: unknown[]) => {
          const s = splitScheduleArgs(handler.length, params);
          return this.putSchedule(name, s.cron, s.args, opts, s.options);
        },
      },
    });
    return fn;
  }

  /**
   * Enqueue a job of any function name (it may be served by another process). When this
   * instance defined the name with durable(), that definition's options apply (under options).
   */
  enqueue<R = unknown>(name: string, args: unknown[] = [], options?: CallOptions): Promise<JobHandle<R>> {
    return this.enqueueWith<R>(name, args, this.defs.get(name)?.options, options);
  }

  /**
   * A handle on an existing job by its id (one enqueued by another process, or remembered
   * across a restart), to await its result or check on it. Nothing is sent until it is used.
   */
  handle<R = unknown>(jobId: string | number | bigint): JobHandle<R> {
    return new JobHandle<R>(this.host, String(jobIdToWire(jobId)));
  }

  /** The job's current state. Rejects `not_found` for an unknown id. */
  async getJob(jobId: string | number | bigint): Promise<JobDetails> {
    const r = await this.call('GET', { job: jobIdToWire(jobId) });
    return jobDetails(r.fields);
  }

  /** Cancel a pending or running job; `conflict` when it is already final. */
  async cancelJob(jobId: string | number | bigint): Promise<JobDetails> {
    const r = await this.call('CANCEL', { job: jobIdToWire(jobId) });
    return jobDetails(r.fields);
  }

  /** Run a dead or cancelled job again with a fresh set of attempts; `conflict` otherwise. */
  async retryJob(jobId: string | number | bigint): Promise<JobDetails> {
    const r = await this.call('RETRY', { job: jobIdToWire(jobId) });
    return jobDetails(r.fields);
  }

  /**
   * Jobs newest first, filtered (`parent`: only that job's steps); pass `next` back as `after`
   * for the following page.
   */
  async listJobs(
    filter: { status?: JobStatus; name?: string; parent?: string | number | bigint; limit?: number; after?: string | number | bigint } = {},
  ): Promise<{ jobs: JobDetails[]; next?: string }> {
    const fields = {
      ...(filter.status !== undefined ? { status: filter.status } : {}),
      ...(filter.name !== undefined ? { name: filter.name } : {}),
      ...(filter.parent !== undefined ? { parent: jobIdToWire(filter.parent) } : {}),
      ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
      ...(filter.after !== undefined ? { after: jobIdToWire(filter.after) } : {}),
    };
    const r = await this.call('LIST', fields);
    const out: { jobs: JobDetails[]; next?: string } = { jobs: r.fields.jobs.map(jobDetails) };
    if (r.fields.next !== undefined) out.next = String(r.fields.next);
    return out;
  }

  /**
   * Every step of a job (the jobs its handler's durable calls made), in call order: by position,
   * and for one position (a retried handler that called another function there) oldest first.
   * Pages through LIST `parent`; for very many steps, page with listJobs({ parent }) instead.
   */
  async listSteps(jobId: string | number | bigint): Promise<JobDetails[]> {
    const parent = jobIdToWire(jobId);
    const out: JobDetails[] = [];
    let after: Int | undefined;
    do {
      const r = await this.call('LIST', { parent, limit: MAX_LIST, ...(after !== undefined ? { after } : {}) });
      out.push(...r.fields.jobs.map(jobDetails));
      after = r.fields.next;
    } while (after !== undefined);
    return out.sort((a, b) => (a.step ?? 0) - (b.step ?? 0) || compareIds(a.jobId, b.jobId));
  }

  /** A handle on an existing schedule by name. Nothing is sent until it is used. */
  scheduleHandle(name: string): ScheduleHandle {
    return new ScheduleHandle(this.scheduleHost, checkScheduleName(name));
  }

  /** The schedule as stored. Rejects `not_found` for an unknown name. */
  async getSchedule(name: string): Promise<ScheduleDetails> {
    const r = await this.call('SCHEDULE_GET', { name: checkScheduleName(name) });
    return scheduleDetails(r.fields);
  }

  /** Pause a schedule (no more runs until resumed). */
  async pauseSchedule(name: string): Promise<ScheduleDetails> {
    const r = await this.call('SCHEDULE_PAUSE', { name: checkScheduleName(name) });
    return scheduleDetails(r.fields);
  }

  /** Resume a schedule from the next due time after now. */
  async resumeSchedule(name: string): Promise<ScheduleDetails> {
    const r = await this.call('SCHEDULE_RESUME', { name: checkScheduleName(name) });
    return scheduleDetails(r.fields);
  }

  /** Delete a schedule; jobs it already made stay. */
  async deleteSchedule(name: string): Promise<void> {
    await this.call('SCHEDULE_DELETE', { name: checkScheduleName(name) });
  }

  /** Schedules by name, ascending; pass `next` back as `after` for the following page. */
  async listSchedules(filter: { limit?: number; after?: string } = {}): Promise<{ schedules: ScheduleDetails[]; next?: string }> {
    const fields = {
      ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
      ...(filter.after !== undefined ? { after: filter.after } : {}),
    };
    const r = await this.call('SCHEDULE_LIST', fields);
    const out: { schedules: ScheduleDetails[]; next?: string } = { schedules: r.fields.schedules.map(scheduleDetails) };
    if (r.fields.next !== undefined) out.next = r.fields.next;
    return out;
  }

  /**
   * What `reseolio status` shows: the daemon, its database, the daemons on it, the queues by
   * function and status, and this daemon's counters by function (STATISTICS, wire field names;
   * integers are numbers, or bigints past 2^53).
   */
  async stats(): Promise<StatisticsFields> {
    return (await this.call('STATS', {})).fields;
  }

  /** Round trip to the daemon, in ms. */
  async ping(): Promise<number> {
    const t = performance.now();
    await this.call('PING', {});
    return performance.now() - t;
  }

  // ---- internals ----

  private async putSchedule(fn: string, cron: string, args: unknown[], base: DurableOptions, options: ScheduleOptions): Promise<ScheduleHandle> {
    const name = options.name !== undefined ? checkScheduleName(options.name) : defaultScheduleName(fn, cron, options.zone);
    const { name: _omit, ...rest } = options;
    const bytes = encodeArgs(args, `the arguments of schedule ${name}`);
    try {
      await this.call('SCHEDULE_PUT', schedulePutFields(name, fn, cron, bytes, base, rest));
    } catch (e) {
      throw inScheduleTerms(e);
    }
    return new ScheduleHandle(this.scheduleHost, name);
  }

  private async enqueueWith<R>(name: string, args: unknown[], base: DurableOptions | undefined, call: CallOptions | undefined): Promise<JobHandle<R>> {
    // The position is taken at the call, before anything is awaited: steps called together
    // (Promise.all) are numbered in the order of the calls.
    const step = isDetached(call) ? undefined : this.nextStep();
    const bytes = encodeArgs(args, `the arguments of ${name}`);
    let r: MessageOf<'ENQUEUED'>;
    try {
      r = await this.call('ENQUEUE', { ...enqueueFields(name, bytes, base, call), ...step });
    } catch (e) {
      throw inOptionTerms(e);
    }
    return new JobHandle<R>(this.host, String(r.fields.job), r.fields.deduplicated);
  }

  /**
   * Send a request on the current session and return its reply. A request the daemon refused
   * with `shutting_down` (it stops gracefully and did nothing with it) is sent again once the
   * client has reconnected, within connectTimeoutMs; other errors are the caller's.
   */
  private async call<K extends RequestType>(type: K, fields: FieldsOf[K]): Promise<ReplyOf<K>> {
    const end = Date.now() + (this.opts.connectTimeoutMs ?? 10_000);
    for (;;) {
      const conn = await this.ready();
      try {
        return await conn.request(type, fields);
      } catch (e) {
        if (!isShuttingDown(e) || this.state !== 'running' || Date.now() >= end) throw e;
        await closed(conn, end - Date.now());
      }
    }
  }

  /**
   * Inside a handler run by this client's worker: the running job as the parent of the call
   * being made, and the call's position among its steps (the counter advances).
   */
  private nextStep(): { parent: Int; step: number } | undefined {
    const active = jobStorage.getStore();
    if (!active || active.worker !== this.worker) return undefined;
    return { parent: jobIdToWire(active.context.jobId), step: active.nextStep++ };
  }

  /**
   * Inside a handler run by this client's worker, whose attempt still runs: AWAIT's waiter, so
   * that the daemon lends the waiting attempt's slot to steps (the no-starvation rule).
   */
  private waiter(active: ActiveJob | undefined): { waiter: Int; waiter_attempt: number } | undefined {
    if (!active || active.worker !== this.worker || active.context.signal.aborted) return undefined;
    return { waiter: jobIdToWire(active.context.jobId), waiter_attempt: active.context.attempt };
  }

  private async awaitResult(jobId: string, timeoutMs?: number): Promise<unknown> {
    const job = jobIdToWire(jobId);
    const active = jobStorage.getStore(); // read now: the caller's context
    if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 0)) {
      throw new RangeError('result(timeoutMs): timeoutMs must be a non-negative integer');
    }
    const end = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    let pause = 50;
    for (;;) {
      const left = () => (end === undefined ? Infinity : Math.max(0, end - Date.now()));
      const conn = await this.ready(left());
      const fields = { job, ...(end === undefined ? {} : { timeout_ms: left() }), ...this.waiter(active) };
      let m: MessageOf<'COMPLETED'>;
      try {
        m = await conn.request('AWAIT', fields);
      } catch (e) {
        if (this.state !== 'running' && this.state !== 'starting') throw e;
        // The daemon went away, or is stopping (its connection closes next): wait for the
        // reconnection and ask again. PostgreSQL out of reach for now: ask again after a pause.
        if (e instanceof DisconnectedError) continue;
        if (isShuttingDown(e)) {
          await closed(conn, left());
          continue;
        }
        if (e instanceof ReseolioError && e.code === 'unavailable' && e.retryable && left() > 0) {
          await new Promise((res) => setTimeout(res, Math.min(pause, left())));
          pause = Math.min(pause * 2, 2000);
          continue;
        }
        throw e;
      }
      const c = m.fields;
      if (c.status === 'success') return decodeResult(c.result);
      throw new JobFailedError(jobId, c.status, Number(c.attempt), c.error);
    }
  }

  /**
   * The open connection, waiting through a reconnection (or a start in progress) up to waitMs
   * (default connectTimeoutMs).
   */
  private async ready(waitMs?: number): Promise<Connection> {
    if (this.conn?.isOpen) return this.conn;
    if (this.state === 'idle') throw new ReseolioError('unavailable', 'call start() before using Reseolio', false);
    if (this.state === 'stopping' || this.state === 'stopped') throw new ReseolioError('shutting_down', 'the Reseolio client was stopped');
    const limit = waitMs ?? this.opts.connectTimeoutMs ?? 10_000;
    return new Promise<Connection>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.internal.off('up', onUp);
        this.internal.off('stopped', onStopped);
      };
      const onUp = () => {
        done();
        if (this.conn?.isOpen) resolve(this.conn);
        else reject(new DisconnectedError('lost the connection to reseoliod again'));
      };
      const onStopped = () => {
        done();
        reject(new ReseolioError('shutting_down', 'the Reseolio client was stopped'));
      };
      this.internal.on('up', onUp);
      this.internal.on('stopped', onStopped);
      if (this.state === 'starting') this.starting?.catch((e: unknown) => (done(), reject(e)));
      if (Number.isFinite(limit)) {
        timer = setTimeout(() => {
          done();
          reject(
            waitMs === undefined
              ? new DisconnectedError(`no connection to reseoliod on ${this.socketPath} within ${limit} ms`)
              : new ReseolioError('timeout', `timed out after waiting for reseoliod`, true),
          );
        }, limit);
      }
    });
  }

  /** Open a session, starting the daemon first when none answers and autoStart is on. */
  private async connect(): Promise<Connection> {
    const open = () =>
      Connection.open({
        socketPath: this.socketPath,
        clientName: `reseolio-node/${VERSION}`,
        storage: this.opts.storage,
        maxPending: this.opts.maxPending,
        handshakeTimeoutMs: this.opts.connectTimeoutMs,
      });
    try {
      return await open();
    } catch (e) {
      const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
      const noDaemon = e instanceof DisconnectedError && (cause?.code === 'ENOENT' || cause?.code === 'ECONNREFUSED');
      if (!noDaemon || this.opts.autoStart === false) {
        if (noDaemon) {
          throw new ReseolioError('unavailable', `no reseoliod answers on ${this.socketPath} (autoStart is off)`, true, { cause: e });
        }
        throw e;
      }
    }
    const pid = await ensureDaemon({
      socketPath: this.socketPath,
      daemonPath: this.opts.daemonPath,
      storage: this.opts.storage,
      timeoutMs: this.opts.connectTimeoutMs,
    });
    if (pid !== undefined) this.emit('daemon:started', pid);
    return open();
  }

  /** Make conn the current session: route its dispatches to the worker, watch for its end. */
  private attach(conn: Connection): void {
    this.conn = conn;
    this.registered = new Set();
    if (this.worker) this.worker.attach(conn);
    else
      this.worker = new Worker(
        { handler: (n) => this.defs.get(n)?.handler, emit: (ev, ...a) => this.emit(ev as keyof ReseolioEvents, ...(a as [never])) },
        conn,
      );
    const worker = this.worker;
    conn.on('dispatch', (d) => worker.onDispatch(d));
    conn.on('abandon', (a) => worker.onAbandon(a));
    conn.on('protocol-error', (e: Error) => this.emit('warning', e));
    conn.on('close', (reason: Error) => this.onClose(conn, reason));
  }

  private onClose(conn: Connection, reason: Error): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    if (this.state !== 'running') return;
    // The daemon releases this connection's attempts for retry; their ACKs would be stale.
    this.worker?.abandonAll('disconnected', 'lost the connection to reseoliod; the job will be retried');
    this.emit('disconnected', reason);
    void this.reconnect();
  }

  /** Reconnect with backoff until it works or the client stops. */
  private async reconnect(): Promise<void> {
    let delay = 50;
    while (this.state === 'running') {
      await new Promise((r) => setTimeout(r, delay));
      if (this.state !== 'running') return;
      try {
        const conn = await this.connect();
        if (this.state !== 'running') {
          conn.close();
          return;
        }
        this.attach(conn);
        await this.register(conn).catch((e: Error) => this.emit('warning', e));
        this.internal.emit('up');
        this.emit('reconnected');
        return;
      } catch (e) {
        this.emit('warning', e instanceof Error ? e : new Error(String(e)));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  private scheduleRegister(): void {
    // during start() too: a name defined while its first REGISTER is in flight is sent next
    if (this.registerScheduled || (this.state !== 'running' && this.state !== 'starting')) return;
    this.registerScheduled = true;
    setImmediate(() => {
      this.registerScheduled = false;
      const conn = this.conn;
      if (conn?.isOpen) this.register(conn).catch((e: Error) => this.emit('warning', e));
    });
  }

  /** REGISTER the names not yet registered on conn (in groups of 256). */
  private async register(conn: Connection): Promise<void> {
    const names = [...this.defs.keys()].filter((n) => !this.registered.has(n));
    for (let i = 0; i < names.length; i += MAX_REGISTER) {
      const group = names.slice(i, i + MAX_REGISTER);
      await conn.request('REGISTER', { names: group, concurrency: this.concurrency });
      for (const n of group) this.registered.add(n);
    }
  }
}

/** Check durable() options now, so that a bad one fails at definition rather than at first call. */
function enqueueFieldsCheck(name: string, options: DurableOptions): void {
  // the codec is the one place that knows the ranges: encode a scratch frame
  encodeFrame({ type: 'ENQUEUE', requestId: 0, fields: enqueueFields(name, new Uint8Array(0), options) });
}

/** Two job ids (decimal strings) in numeric order. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** p, or nothing after ms: whichever comes first (p's rejection is the caller's). */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(r, Math.min(ms, 2 ** 31 - 1), undefined)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The daemon refused a request because it is stopping (it did nothing with it). */
function isShuttingDown(e: unknown): boolean {
  return e instanceof ReseolioError && e.code === 'shutting_down';
}

/** Resolves when conn has closed, or after ms (a daemon that stops closes its connections). */
function closed(conn: Connection, ms: number): Promise<void> {
  if (!conn.isOpen) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    function done() {
      clearTimeout(timer);
      conn.off('close', done);
      resolve();
    }
    conn.once('close', done);
  });
}
