/*
 * Cron schedules as the application sees them: the cron helpers, the schedule options and how
 * they become SCHEDULE_PUT fields, the default schedule name, and ScheduleHandle.
 */

import { createHash } from 'node:crypto';

import { ReseolioError } from './errors.js';
import { decodeArgs } from './payload.js';
import { MAX_SCHEDULE_NAME, type Backoff, type ScheduleFields, type SchedulePutFields } from './schema.js';
import type { DurableOptions } from './options.js';

/** Options of a schedule: the options of every run it makes, plus these. */
export interface ScheduleOptions extends DurableOptions {
  /** IANA time zone the cron fields match, e.g. `Europe/Berlin`. Default `UTC`. */
  zone?: string;
  /**
   * The schedule's name, unique per database; creating is idempotent by it. Default
   * `defaultScheduleName(function, cron, zone)`.
   */
  name?: string;
  /**
   * true: create (or put) it paused; false: make it active. Absent: a new schedule is active,
   * an existing one keeps its state (so a restarting app does not resume what an operator paused).
   */
  paused?: boolean;
}

/** The options form of `fn.schedule({ cron, args, ...options })`. */
export interface ScheduleSpec<A extends unknown[] = unknown[]> extends ScheduleOptions {
  /** 5-field cron expression or `@hourly` etc. (see the helpers `Reseolio.daily()` …). */
  cron: string;
  /** The arguments of every run. Default none. */
  args?: A;
}

/** Everything known about a schedule (SCHEDULE_GET, PAUSE, RESUME, LIST). */
export interface ScheduleDetails {
  name: string;
  /** The durable function each run calls. */
  functionName: string;
  cron: string;
  zone: string;
  args: unknown[];
  maxAttempts: number;
  backoff: Backoff;
  initialDelayMs: number;
  maxDelayMs: number;
  jitter: number;
  timeoutMs: number;
  priority: number;
  paused: boolean;
  /** Due time of the next run; absent while paused. */
  nextRunAt?: Date;
  /** Due time of the latest run made. */
  lastRunAt?: Date;
  createdAt: Date;
}

/** Option name ↔ SCHEDULE_PUT field. */
const WIRE: ReadonlyArray<readonly [keyof ScheduleOptions, keyof SchedulePutFields]> = [
  ['zone', 'zone'],
  ['maxAttempts', 'max_attempts'],
  ['backoff', 'backoff'],
  ['initialDelayMs', 'initial_delay_ms'],
  ['maxDelayMs', 'max_delay_ms'],
  ['jitter', 'jitter'],
  ['timeoutMs', 'timeout_ms'],
  ['priority', 'priority'],
  ['paused', 'paused'],
];

/** The names that may appear in a schedule options object (besides `cron` and `args`). */
export const SCHEDULE_OPTION_KEYS: ReadonlySet<string> = new Set<string>([...WIRE.map(([k]) => k), 'name']);

/** The options of durable() that apply to the runs of a schedule too. */
const RUN_OPTION_KEYS = ['maxAttempts', 'backoff', 'initialDelayMs', 'maxDelayMs', 'jitter', 'timeoutMs', 'priority'] as const;

/** The SCHEDULE_PUT fields: the durable() options, overridden by the schedule's. */
export function schedulePutFields(name: string, fn: string, cron: string, args: Uint8Array, base: DurableOptions | undefined, opts: ScheduleOptions): SchedulePutFields {
  const merged: Record<string, unknown> = {};
  for (const k of RUN_OPTION_KEYS) if (base?.[k] !== undefined) merged[k] = base[k];
  Object.assign(merged, opts);
  const f: Record<string, unknown> = { name, function: fn, cron, args };
  for (const [opt, wire] of WIRE) {
    const v = merged[opt];
    if (v !== undefined && v !== null) f[wire] = v;
  }
  return f as unknown as SchedulePutFields;
}

/** Rewrite a codec error about a SCHEDULE_PUT field in terms of the option the user wrote. */
export function inScheduleTerms(e: unknown): unknown {
  if (!(e instanceof ReseolioError) || !/^SCHEDULE_PUT[.:]/.test(e.message)) return e;
  let msg = e.message;
  for (const [opt, wire] of WIRE) {
    if (msg.startsWith(`SCHEDULE_PUT.${wire}:`)) msg = `schedule option ${opt}:` + msg.slice(`SCHEDULE_PUT.${wire}:`.length);
  }
  msg = msg.replace(/^SCHEDULE_PUT\.name:/, 'schedule name:');
  msg = msg.replace(/^SCHEDULE_PUT\.function:/, 'function name:');
  msg = msg.replace(/^SCHEDULE_PUT\.cron:/, 'cron:');
  return new ReseolioError(e.code, msg, e.retryable, { cause: e });
}

/** The cron expression as the default name uses it: trimmed, runs of blanks made one space. */
function normalCron(cron: string): string {
  return cron.trim().replace(/\s+/g, ' ');
}

/**
 * The default schedule name: `<function>|<cron>|<zone>` (the cron with its blanks normalised,
 * the zone `UTC` when not given). It depends on nothing else, so the same call in a restarted
 * app (or on another host) names the same schedule, and SCHEDULE_PUT updates it instead of
 * making a second one. The arguments and run options are not part of it: changing them updates
 * the schedule. When the name would exceed 200 bytes it is shortened to a prefix plus `#` and
 * 32 hex digits of the SHA-256 of the full name.
 */
export function defaultScheduleName(fn: string, cron: string, zone = 'UTC'): string {
  const full = `${fn}|${normalCron(cron)}|${zone}`;
  if (Buffer.byteLength(full, 'utf8') <= MAX_SCHEDULE_NAME) return full;
  const digest = '#' + createHash('sha256').update(full, 'utf8').digest('hex').slice(0, 32);
  let prefix = full;
  while (Buffer.byteLength(prefix, 'utf8') + digest.length > MAX_SCHEDULE_NAME) prefix = Array.from(prefix).slice(0, -1).join('');
  return prefix + digest;
}

/** Check a schedule name: 1–200 bytes of UTF-8 without NUL. */
export function checkScheduleName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError('a schedule name must be a string');
  const n = Buffer.byteLength(name, 'utf8');
  if (n < 1 || n > MAX_SCHEDULE_NAME) throw new RangeError(`schedule name must be 1–${MAX_SCHEDULE_NAME} bytes, got ${n}`);
  if (name.includes('\0')) throw new RangeError('schedule name must not contain NUL');
  return name;
}

const date = (v: number | bigint) => new Date(Number(v));

/** A SCHEDULE (or an entry of SCHEDULES) as ScheduleDetails. */
export function scheduleDetails(s: ScheduleFields): ScheduleDetails {
  const d: ScheduleDetails = {
    name: s.name,
    functionName: s.function,
    cron: s.cron,
    zone: s.zone,
    args: decodeArgs(s.args),
    maxAttempts: Number(s.max_attempts),
    backoff: s.backoff,
    initialDelayMs: Number(s.initial_delay_ms),
    maxDelayMs: Number(s.max_delay_ms),
    jitter: s.jitter,
    timeoutMs: Number(s.timeout_ms),
    priority: Number(s.priority),
    paused: s.paused,
    createdAt: date(s.created_at),
  };
  if (s.next_run_at !== undefined) d.nextRunAt = date(s.next_run_at);
  if (s.last_run_at !== undefined) d.lastRunAt = date(s.last_run_at);
  return d;
}

/** What a schedule handle needs from the client. */
export interface ScheduleHost {
  getSchedule(name: string): Promise<ScheduleDetails>;
  pauseSchedule(name: string): Promise<ScheduleDetails>;
  resumeSchedule(name: string): Promise<ScheduleDetails>;
  deleteSchedule(name: string): Promise<void>;
}

/** A durable cron schedule, by name. */
export class ScheduleHandle {
  constructor(
    private readonly host: ScheduleHost,
    /** The schedule's name. */
    readonly name: string,
  ) {}

  /** The schedule as stored. Rejects `not_found` once deleted. */
  details(): Promise<ScheduleDetails> {
    return this.host.getSchedule(this.name);
  }

  /** Make no more runs until resume() (pausing a paused schedule is fine). */
  pause(): Promise<ScheduleDetails> {
    return this.host.pauseSchedule(this.name);
  }

  /** Run again from the next due time after now (runs due while paused are skipped). */
  resume(): Promise<ScheduleDetails> {
    return this.host.resumeSchedule(this.name);
  }

  /** Remove the schedule; jobs it already made stay. Rejects `not_found` when it is gone. */
  delete(): Promise<void> {
    return this.host.deleteSchedule(this.name);
  }
}

// ---- cron helpers ----

const DAYS: ReadonlyArray<readonly string[]> = [
  ['sun', 'sunday'],
  ['mon', 'monday'],
  ['tue', 'tuesday'],
  ['wed', 'wednesday'],
  ['thu', 'thursday'],
  ['fri', 'friday'],
  ['sat', 'saturday'],
];

/** A day of the week: `'mon'`, `'Monday'`, … or 0–6 (0 = Sunday) or 7 (Sunday). */
export type Weekday = string | number;

function minuteOf(m: unknown, what: string): number {
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 0 || m > 59) {
    throw new RangeError(`${what}: the minute must be an integer in 0..59, got ${JSON.stringify(m) ?? String(m)}`);
  }
  return m;
}

function timeOf(t: unknown, what: string): [hour: number, minute: number] {
  const m = typeof t === 'string' ? /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(t.trim()) : null;
  if (!m) throw new RangeError(`${what}: the time must be "HH:MM" (24-hour, 00:00–23:59), got ${JSON.stringify(t) ?? String(t)}`);
  return [Number(m[1]), Number(m[2])];
}

function dayOf(d: unknown, what: string): number {
  if (typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= 7) return d % 7;
  if (typeof d === 'string') {
    const i = DAYS.findIndex((names) => names.includes(d.trim().toLowerCase()));
    if (i >= 0) return i;
  }
  throw new RangeError(`${what}: the day must be one of sun, mon, tue, wed, thu, fri, sat (or a full day name, or 0–7 with 0 and 7 Sunday), got ${JSON.stringify(d) ?? String(d)}`);
}

/** `* * * * *`: every minute. */
export function everyMinute(): string {
  return '* * * * *';
}

/** `M * * * *`: every hour at minute M (default 0). */
export function hourly(minute = 0): string {
  return `${minuteOf(minute, 'hourly()')} * * * *`;
}

/** `M H * * *`: every day at time `"HH:MM"` (default `"00:00"`), in the schedule's zone. */
export function daily(time = '00:00'): string {
  const [h, m] = timeOf(time, 'daily()');
  return `${m} ${h} * * *`;
}

/** `M H * * D`: every week on day at time `"HH:MM"` (default `"00:00"`), in the schedule's zone. */
export function weekly(day: Weekday, time = '00:00'): string {
  const d = dayOf(day, 'weekly()');
  const [h, m] = timeOf(time, 'weekly()');
  return `${m} ${h} * * ${d}`;
}

/** A plain object: made by `{}` or Object.create(null). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `fn.schedule(...)` as a cron, the run arguments and the schedule options. Two forms:
 *   - `fn.schedule({ cron, args, zone, name, paused, ...runOptions })`: one plain object with
 *     a `cron` key; explicit, never guessed;
 *   - `fn.schedule(cron, ...args)`: a trailing object is taken as schedule options by the
 *     per-call options rule (options.ts `splitCallArgs`) with SCHEDULE_OPTION_KEYS: more
 *     arguments than the handler declares, a plain object, every key a schedule option name.
 */
export function splitScheduleArgs(arity: number, params: unknown[]): { cron: string; args: unknown[]; options: ScheduleOptions } {
  const [first, ...rest] = params;
  if (isPlainObject(first) && params.length === 1) {
    const { cron, args, ...options } = first as unknown as ScheduleSpec;
    for (const k of Object.keys(options)) {
      if (!SCHEDULE_OPTION_KEYS.has(k)) throw new TypeError(`schedule(): unknown option ${JSON.stringify(k)} (known: cron, args, ${[...SCHEDULE_OPTION_KEYS].join(', ')})`);
    }
    if (typeof cron !== 'string') throw new TypeError('schedule({ cron }): cron must be a string');
    if (args !== undefined && !Array.isArray(args)) throw new TypeError('schedule({ args }): args must be an array');
    return { cron, args: args ?? [], options };
  }
  if (typeof first !== 'string') throw new TypeError('schedule() needs a cron string first, or one options object { cron, ... }');
  if (rest.length > arity) {
    const last = rest[rest.length - 1];
    if (isPlainObject(last)) {
      const keys = Object.keys(last);
      if (keys.length > 0 && keys.every((k) => SCHEDULE_OPTION_KEYS.has(k))) {
        return { cron: first, args: rest.slice(0, -1), options: last as ScheduleOptions };
      }
    }
  }
  return { cron: first, args: rest, options: {} };
}
