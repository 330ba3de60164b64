/*
 * One session with reseoliod over its Unix socket (docs/protocol.md §1, §3): the handshake,
 * requests matched to replies by request id, frames written once per event-loop turn, and the
 * daemon's unsolicited DISPATCH and ABANDON handed on as events.
 */

import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';

import { DecodeError, FrameReader, appendFrame, decodeBody } from './codec.js';
import { DisconnectedError, ReseolioError, errorCodeOf } from './errors.js';
import {
  MAX_FRAME_PREHELLO,
  PROTOCOL_VERSION,
  type AbandonFields,
  type DispatchFields,
  type FieldsOf,
  type Message,
  type MessageOf,
  type MsgTypeName,
  type WelcomeFields,
} from './schema.js';
import { Writer } from './wire.js';

/** The reply each request type expects. */
const REPLY = {
  HELLO: 'WELCOME',
  PING: 'PONG',
  ENQUEUE: 'ENQUEUED',
  REGISTER: 'OK',
  ACK: 'OK',
  AWAIT: 'COMPLETED',
  GET: 'JOB',
  CANCEL: 'JOB',
  RETRY: 'JOB',
  LIST: 'JOBS',
  SCHEDULE_PUT: 'SCHEDULE',
  SCHEDULE_GET: 'SCHEDULE',
  SCHEDULE_PAUSE: 'SCHEDULE',
  SCHEDULE_RESUME: 'SCHEDULE',
  SCHEDULE_DELETE: 'OK',
  SCHEDULE_LIST: 'SCHEDULES',
  STATS: 'STATISTICS',
} as const;

export type RequestType = keyof typeof REPLY;
export type ReplyOf<K extends RequestType> = MessageOf<(typeof REPLY)[K]>;

/** Called once with the reply or the error, synchronously as the reply is read. */
export type ReplyCallback<K extends RequestType> = (err: Error | undefined, reply?: ReplyOf<K>) => void;

interface Pending {
  expect: MsgTypeName;
  done: (err: Error | undefined, reply?: Message) => void;
}

export interface ConnectionOptions {
  /** Path of the daemon's socket. */
  socketPath: string;
  /** Client name and version sent in HELLO. */
  clientName: string;
  /** The storage the application was configured with; the daemon refuses a different one. */
  storage?: string | undefined;
  /** Most requests awaiting a reply at once (AWAITs included); past it a request fails `limit`. */
  maxPending?: number | undefined;
  /** Time allowed for connect + HELLO/WELCOME. */
  handshakeTimeoutMs?: number | undefined;
}

/**
 * A connection to reseoliod. Events: `dispatch` (DispatchFields), `abandon` (AbandonFields),
 * `protocol-error` (Error: something the daemon sent that this client could not use), and
 * `close` (Error: why; every pending request has been rejected by then).
 */
export class Connection extends EventEmitter {
  private readonly socket: Socket;
  private readonly reader = new FrameReader(MAX_FRAME_PREHELLO);
  private readonly pending = new Map<number, Pending>();
  private readonly maxPending: number;
  private out = new Writer();
  private flushScheduled = false;
  private outLimit = MAX_FRAME_PREHELLO;
  private nextId = 1;
  private closed: Error | undefined;
  private lastDaemonError: ReseolioError | undefined;
  /** WELCOME's fields, once the handshake is done. */
  welcome: WelcomeFields | undefined;

  private constructor(socket: Socket, maxPending: number) {
    super();
    this.socket = socket;
    this.maxPending = maxPending;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.shutdown(new DisconnectedError(`connection to reseoliod failed: ${e.message}`, { cause: e })));
    socket.on('close', () => this.shutdown(this.lastDaemonError ?? new DisconnectedError('connection to reseoliod closed')));
  }

  /**
   * Connect and shake hands. Rejects with DisconnectedError (its `cause` is the socket error,
   * e.g. ENOENT or ECONNREFUSED when no daemon listens) or with the daemon's ERROR
   * (`storage_mismatch`, `unsupported_version`, `limit`, ...).
   */
  static open(opts: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: opts.socketPath });
      const conn = new Connection(socket, opts.maxPending ?? 100_000);
      const timer = setTimeout(() => {
        conn.close(new DisconnectedError(`no answer from reseoliod on ${opts.socketPath} within ${opts.handshakeTimeoutMs ?? 10_000} ms`));
      }, opts.handshakeTimeoutMs ?? 10_000);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      conn.once('close', fail);
      // before WELCOME, anything the client cannot use ends the attempt at once
      const unusable = (e: Error) => conn.close(e);
      conn.once('protocol-error', unusable);
      conn
        .request('HELLO', {
          version: PROTOCOL_VERSION,
          client: opts.clientName,
          pid: process.pid,
          ...(opts.storage !== undefined ? { storage: opts.storage } : {}),
        })
        .then((w) => {
          clearTimeout(timer);
          conn.off('close', fail);
          conn.off('protocol-error', unusable);
          conn.welcome = w.fields;
          const max = Number(w.fields.max_frame);
          conn.reader.limit = max;
          conn.outLimit = max;
          resolve(conn);
        }, (e: Error) => {
          conn.close(e);
          fail(e);
        });
    });
  }

  /** Whether the session is still open. */
  get isOpen(): boolean {
    return this.closed === undefined;
  }

  /** Requests awaiting their reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Send a request; resolves with its reply, rejects with the daemon's ERROR as a
   * ReseolioError, or with DisconnectedError when the connection ends first. A message that
   * does not encode (bad field, too large) rejects before anything is sent.
   */
  request<K extends RequestType>(type: K, fields: FieldsOf[K]): Promise<ReplyOf<K>> {
    return new Promise<ReplyOf<K>>((resolve, reject) => {
      this.send(type, fields, (err, reply) => (err ? reject(err) : resolve(reply!)));
    });
  }

  /**
   * request() with a callback, called synchronously when the reply is read: what follows the
   * reply in the same read (a DISPATCH after an ACK's OK, say) is seen after the callback.
   */
  send<K extends RequestType>(type: K, fields: FieldsOf[K], done: ReplyCallback<K>): void {
    if (this.closed) return done(this.closed);
    if (this.pending.size >= this.maxPending) {
      return done(new ReseolioError('limit', `more than ${this.maxPending} requests awaiting a reply`, true));
    }
    let id = this.nextId;
    while (this.pending.has(id)) id = id >= 0xffffffff ? 1 : id + 1;
    this.nextId = id >= 0xffffffff ? 1 : id + 1;
    try {
      appendFrame(this.out, { type, requestId: id, fields } as Message, this.outLimit);
    } catch (e) {
      return done(e as Error);
    }
    this.pending.set(id, { expect: REPLY[type], done: done as Pending['done'] });
    this.scheduleFlush();
  }

  /** End the session; pending requests are rejected with reason. */
  close(reason: Error = new DisconnectedError('connection closed by the client')): void {
    if (this.closed) return;
    this.flush();
    this.shutdown(reason);
    this.socket.end();
    this.socket.destroy();
  }

  /** All frames queued during this turn of the event loop go out in one write. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.pos === 0 || this.closed) return;
    this.socket.write(this.out.take());
  }

  private onData(chunk: Buffer): void {
    try {
      this.reader.push(chunk, (body) => this.onBody(body));
    } catch (e) {
      // a framing error from the daemon: nothing after it can be trusted
      const err = e instanceof ReseolioError ? e : new ReseolioError('internal', String(e));
      this.close(new ReseolioError(err.code, `reseoliod sent a bad frame: ${err.message}`));
    }
  }

  private onBody(body: Buffer): void {
    let msg: Message;
    try {
      msg = decodeBody(body);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const err = new ReseolioError(e instanceof ReseolioError ? e.code : 'internal', `reseoliod sent a message this client cannot read: ${why}`);
      const p = e instanceof DecodeError && e.requestId ? this.pending.get(e.requestId) : undefined;
      if (p && e instanceof DecodeError) {
        this.pending.delete(e.requestId!);
        p.done(err);
      } else {
        this.emit('protocol-error', err);
      }
      return;
    }
    if (msg.requestId !== 0) {
      const p = this.pending.get(msg.requestId);
      if (p === undefined) {
        this.emit('protocol-error', new ReseolioError('unexpected', `reply ${msg.type} for unknown request ${msg.requestId}`));
        return;
      }
      this.pending.delete(msg.requestId);
      if (msg.type === 'ERROR') p.done(toError(msg));
      else if (msg.type === p.expect) p.done(undefined, msg);
      else p.done(new ReseolioError('unexpected', `expected ${p.expect}, reseoliod answered ${msg.type}`));
      return;
    }
    switch (msg.type) {
      case 'DISPATCH':
        this.emit('dispatch', msg.fields satisfies DispatchFields);
        return;
      case 'ABANDON':
        this.emit('abandon', msg.fields satisfies AbandonFields);
        return;
      case 'ERROR':
        // a session-level error (framing, limit, shutting_down): the daemon closes after it
        this.lastDaemonError = toError(msg);
        this.emit('protocol-error', this.lastDaemonError);
        return;
      default:
        this.emit('protocol-error', new ReseolioError('unexpected', `unsolicited ${msg.type} from reseoliod`));
    }
  }

  /** Mark closed, reject every pending request, tell the listeners. Idempotent. */
  private shutdown(reason: Error): void {
    if (this.closed) return;
    this.closed = reason;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.done(reason);
    this.emit('close', reason);
  }
}

function toError(msg: MessageOf<'ERROR'>): ReseolioError {
  const f = msg.fields;
  return new ReseolioError(errorCodeOf(f.code), f.message || f.code, f.retryable ?? false);
}
