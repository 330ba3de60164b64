/*
 * The user's options and how they become ENQUEUE fields; function names and namespaces; and
 * the rule that decides whether a call's trailing object is per-call options or an argument.
 */

import { ReseolioError } from './errors.js';
import { MAX_NAME, type Backoff, type EnqueueFields } from './schema.js';

/** How a durable function's jobs are retried and timed (defaults are the daemon's, §5). */
export interface DurableOptions {
  /** Attempts before the job is `dead`, 1–1000 (default 3). */
  maxAttempts?: number;
  /** `fixed`, `linear` or `exponential` (default). */
  backoff?: Backoff;
  /** Delay before the second attempt, ms (default 1000). */
  initialDelayMs?: number;
  /** Cap on any retry delay, ms (default 60000). */
  maxDelayMs?: number;
  /** Each delay is multiplied by a random factor in [1 − jitter, 1], 0–1 (default 0.1). */
  jitter?: number;
  /** Time one attempt may run, ms, 1 ms – 1 day (default 30000). */
  timeoutMs?: number;
  /** Higher runs first among due jobs, −32768–32767 (default 0). */
  priority?: number;
}

/** Options of one call: everything of DurableOptions (overriding it) plus these. */
export interface CallOptions extends DurableOptions {
  /** Same function + same key = the same job: a second enqueue returns the first job. */
  idempotencyKey?: string;
  /** Earliest start, relative to now (ms). Not together with runAt. */
  delayMs?: number;
  /** Earliest start, absolute. Not together with delayMs. */
  runAt?: Date | number;
  /**
   * Inside a handler: true makes this call a job of its own, not a step of the running job
   * (no parent, no position; a retried handler enqueues it again). Outside a handler it changes
   * nothing. Default false.
   */
  detached?: boolean;
}

/** Option name ↔ wire field, for building ENQUEUE and for error messages in the user's terms. */
const WIRE: ReadonlyArray<readonly [keyof CallOptions, keyof EnqueueFields]> = [
  ['idempotencyKey', 'key'],
  ['maxAttempts', 'max_attempts'],
  ['backoff', 'backoff'],
  ['initialDelayMs', 'initial_delay_ms'],
  ['maxDelayMs', 'max_delay_ms'],
  ['jitter', 'jitter'],
  ['timeoutMs', 'timeout_ms'],
  ['priority', 'priority'],
  ['runAt', 'run_at'],
  ['delayMs', 'delay_ms'],
];

/** The names that may appear in a per-call options object. */
export const CALL_OPTION_KEYS: ReadonlySet<string> = new Set([...WIRE.map(([k]) => k), 'detached']);

/** Whether the merged per-call options detach the call from the running job (and check the option). */
export function isDetached(...opts: (CallOptions | undefined)[]): boolean {
  let detached: unknown;
  for (const o of opts) if (o?.detached !== undefined && o.detached !== null) detached = o.detached;
  if (detached === undefined) return false;
  if (typeof detached !== 'boolean') throw new ReseolioError('bad_value', `option detached: must be a boolean, got ${typeof detached}`);
  return detached;
}

/** The ENQUEUE fields for name, args and options (later options override earlier ones). */
export function enqueueFields(name: string, args: Uint8Array, ...opts: (CallOptions | undefined)[]): EnqueueFields {
  const merged: CallOptions = Object.assign({}, ...opts.filter((o) => o !== undefined)) as CallOptions;
  const f: Record<string, unknown> = { name, args };
  for (const [opt, wire] of WIRE) {
    let v: unknown = merged[opt];
    if (v === undefined || v === null) continue;
    if (opt === 'runAt' && v instanceof Date) v = v.getTime();
    f[wire] = v;
  }
  return f as unknown as EnqueueFields;
}

/** Rewrite a codec error about an ENQUEUE field in terms of the option the user wrote. */
export function inOptionTerms(e: unknown): unknown {
  if (!(e instanceof ReseolioError) || !/^ENQUEUE[.:]/.test(e.message)) return e;
  let msg = e.message;
  for (const [opt, wire] of WIRE) {
    if (msg.startsWith(`ENQUEUE.${wire}:`)) msg = `option ${opt}:` + msg.slice(`ENQUEUE.${wire}:`.length);
  }
  msg = msg.replace(/^ENQUEUE: run_at and delay_ms together/, 'options runAt and delayMs together');
  msg = msg.replace(/^ENQUEUE: key:/, 'option idempotencyKey:');
  msg = msg.replace(/^ENQUEUE\.name:/, 'function name:');
  return new ReseolioError(e.code, msg, e.retryable, { cause: e });
}

/** Check a function name: 1–255 bytes of UTF-8 without NUL. */
export function checkName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError('a durable function name must be a string');
  const n = Buffer.byteLength(name, 'utf8');
  if (n < 1 || n > MAX_NAME) throw new RangeError(`function name must be 1–${MAX_NAME} bytes, got ${n}`);
  if (name.includes('\0')) throw new RangeError('function name must not contain NUL');
  return name;
}

/** `namespace('a', 'b', 'c')` → `'a:b:c'`; every part non-empty and without ':'. */
export function namespace(...parts: string[]): string {
  if (parts.length === 0) throw new RangeError('namespace() needs at least one part');
  parts.forEach((p, i) => {
    if (typeof p !== 'string') throw new TypeError(`namespace part ${i} is not a string`);
    if (p.length === 0) throw new RangeError(`namespace part ${i} is empty`);
    if (p.includes(':')) throw new RangeError(`namespace part ${i} (${JSON.stringify(p)}) contains ':'`);
  });
  return checkName(parts.join(':'));
}

/** A plain object: made by `{}` or Object.create(null), not a class instance, array or Date. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The per-call options rule. The last argument of a call is taken as options, not passed to
 * the handler, only when all of these hold:
 *   1. the call has more arguments than the handler declares (`handler.length`);
 *   2. the last argument is a plain object (`{...}`), not an array, class instance or Date;
 *   3. it has at least one key, and every key is a per-call option name (CALL_OPTION_KEYS).
 * Otherwise every argument goes to the handler. `fn.withOptions(opts)(...args)` and
 * `fn.enqueue(args, opts)` say it explicitly and never guess.
 */
export function splitCallArgs(arity: number, args: unknown[]): { args: unknown[]; options: CallOptions | undefined } {
  if (args.length === 0 || args.length <= arity) return { args, options: undefined };
  const last = args[args.length - 1];
  if (!isPlainObject(last)) return { args, options: undefined };
  const keys = Object.keys(last);
  if (keys.length === 0 || !keys.every((k) => CALL_OPTION_KEYS.has(k))) return { args, options: undefined };
  return { args: args.slice(0, -1), options: last as CallOptions };
}
