/*
 * A TEST DOUBLE of reseoliod for the client-logic tests: a real Unix socket speaking the real
 * protocol (through the client's own codec), with a tiny in-memory job engine. It checks the
 * client's request matching, worker loop and events; it says nothing about the real daemon,
 * whose end-to-end tests come with its job engine.
 */

import { createServer, type Server, type Socket } from 'node:net';

import { FrameReader, encodeFrame, decodeBody } from '../src/codec';
import { MAX_FRAME_PREHELLO, type FieldsOf, type JobFields, type Message, type MsgTypeName } from '../src/schema';

export interface FakeJob {
  id: number;
  name: string;
  args: Uint8Array;
  key?: string;
  status: 'pending' | 'running' | 'success' | 'dead' | 'cancelled';
  attempt: number;
  maxAttempts: number;
  timeoutMs: number;
  priority: number;
  result?: Uint8Array;
  error?: string;
  createdAt: number;
  worker?: FakeSession;
}

export class FakeSession {
  readonly reader = new FrameReader(MAX_FRAME_PREHELLO);
  names = new Set<string>();
  concurrency = 0;
  running = 0;
  dataEvents = 0;
  welcomed = false;

  constructor(
    readonly daemon: FakeDaemon,
    readonly socket: Socket,
  ) {}

  send<K extends MsgTypeName>(type: K, requestId: number, fields: FieldsOf[K]): void {
    this.socket.write(encodeFrame({ type, requestId, fields } as Message));
  }
}

export interface FakeOptions {
  /** The storage identity; a HELLO naming another one is refused `storage_mismatch`. */
  storage?: string;
  maxFrame?: number;
  /** Called first with every message; return true when it was answered here. */
  intercept?: (msg: Message, s: FakeSession) => boolean;
}

export class FakeDaemon {
  readonly server: Server;
  readonly sessions = new Set<FakeSession>();
  readonly jobs = new Map<number, FakeJob>();
  /** Every message received, in order. */
  readonly received: Message[] = [];
  private nextId = 1;
  private waiters = new Map<number, { s: FakeSession; id: number; timer?: NodeJS.Timeout }[]>();

  constructor(
    readonly socketPath: string,
    readonly opts: FakeOptions = {},
  ) {
    this.server = createServer((sock) => this.accept(sock));
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  /** Drop every connection (a daemon restart, as far as the clients can tell). */
  dropAll(): void {
    for (const s of this.sessions) s.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise((r) => this.server.close(r));
  }

  /** Messages of one type received so far. */
  of<K extends MsgTypeName>(type: K): FieldsOf[K][] {
    return this.received.filter((m) => m.type === type).map((m) => m.fields as FieldsOf[K]);
  }

  /** Send ABANDON for a running job's current attempt to its worker. */
  abandon(jobId: number, reason: 'timeout' | 'cancelled' | 'shutdown'): void {
    const j = this.jobs.get(jobId)!;
    j.worker?.send('ABANDON', 0, { job: j.id, attempt: j.attempt, reason });
  }

  private accept(sock: Socket): void {
    const s = new FakeSession(this, sock);
    this.sessions.add(s);
    sock.on('data', (chunk) => {
      s.dataEvents++;
      try {
        s.reader.push(chunk, (body) => this.onBody(s, body));
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.onClose(s));
  }

  private onClose(s: FakeSession): void {
    this.sessions.delete(s);
    for (const [, list] of this.waiters) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.s === s) list.splice(i, 1);
    }
    for (const j of this.jobs.values()) {
      if (j.status === 'running' && j.worker === s) {
        j.status = 'pending'; // released for retry at once
        j.worker = undefined;
      }
    }
    this.schedule();
  }

  private onBody(s: FakeSession, body: Buffer): void {
    let m: Message;
    try {
      m = decodeBody(body);
    } catch (e) {
      const err = e as { code: string; message: string; requestId?: number };
      s.send('ERROR', err.requestId ?? 0, { code: err.code, message: err.message });
      return;
    }
    this.received.push(m);
    if (this.opts.intercept?.(m, s)) return;
    this.handle(s, m);
  }

  private jobFields(j: FakeJob): JobFields {
    const f: JobFields = {
      id: j.id,
      name: j.name,
      status: j.status,
      attempt: j.attempt,
      max_attempts: j.maxAttempts,
      args: j.args,
      priority: j.priority,
      created_at: j.createdAt,
      run_at: j.createdAt,
    };
    if (j.result) f.result = j.result;
    if (j.error !== undefined) f.error = j.error;
    if (j.key !== undefined) f.key = j.key;
    return f;
  }

  private handle(s: FakeSession, m: Message): void {
    const id = m.requestId;
    const err = (code: string, message: string, retryable?: boolean) =>
      s.send('ERROR', id, { code, message, ...(retryable !== undefined ? { retryable } : {}) });
    if (m.type !== 'HELLO' && !s.welcomed) {
      err('handshake_required', 'HELLO first');
      s.socket.end();
      return;
    }
    switch (m.type) {
      case 'HELLO': {
        if (this.opts.storage !== undefined && m.fields.storage !== undefined && m.fields.storage !== this.opts.storage) {
          err('storage_mismatch', `this daemon serves ${this.opts.storage}`);
          s.socket.end();
          return;
        }
        const maxFrame = this.opts.maxFrame ?? 1048576;
        s.send('WELCOME', id, { version: 1, node: 'fake-node', server: 'fake-reseoliod/0', max_frame: maxFrame, storage: this.opts.storage ?? 'private' });
        s.welcomed = true;
        s.reader.limit = maxFrame;
        return;
      }
      case 'PING':
        return s.send('PONG', id, {});
      case 'ENQUEUE': {
        const f = m.fields;
        if (f.key !== undefined) {
          for (const j of this.jobs.values()) {
            if (j.name === f.name && j.key === f.key) return s.send('ENQUEUED', id, { job: j.id, deduplicated: true });
          }
        }
        const j: FakeJob = {
          id: this.nextId++,
          name: f.name,
          args: f.args ?? new Uint8Array(0),
          status: 'pending',
          attempt: 0,
          maxAttempts: Number(f.max_attempts ?? 3),
          timeoutMs: Number(f.timeout_ms ?? 30000),
          priority: Number(f.priority ?? 0),
          createdAt: Date.now(),
        };
        if (f.key !== undefined) j.key = f.key;
        this.jobs.set(j.id, j);
        s.send('ENQUEUED', id, { job: j.id, deduplicated: false });
        this.schedule();
        return;
      }
      case 'REGISTER':
        for (const n of m.fields.names) s.names.add(n);
        s.concurrency = Number(m.fields.concurrency);
        s.send('OK', id, {});
        this.schedule();
        return;
      case 'ACK': {
        const j = this.jobs.get(Number(m.fields.job));
        if (!j || j.status !== 'running' || j.worker !== s || j.attempt !== Number(m.fields.attempt)) {
          return err('stale_attempt', 'not the current attempt');
        }
        s.running--;
        j.worker = undefined;
        if (m.fields.release) {
          j.status = 'pending'; // handed back unfinished: due now, the attempt not counted
          j.maxAttempts++;
          s.send('OK', id, {});
          this.schedule();
          return;
        }
        if (m.fields.ok) {
          j.status = 'success';
          if (m.fields.result) j.result = m.fields.result;
        } else {
          j.error = m.fields.error ?? '';
          const retry = (m.fields.retryable ?? true) && j.attempt < j.maxAttempts;
          j.status = retry ? 'pending' : 'dead';
        }
        s.send('OK', id, {});
        this.complete(j);
        this.schedule();
        return;
      }
      case 'AWAIT': {
        const j = this.jobs.get(Number(m.fields.job));
        if (!j) return err('not_found', 'no such job');
        if (this.isFinal(j)) return this.sendCompleted(s, id, j);
        const w: { s: FakeSession; id: number; timer?: NodeJS.Timeout } = { s, id };
        if (m.fields.timeout_ms !== undefined) {
          w.timer = setTimeout(() => {
            const list = this.waiters.get(j.id) ?? [];
            list.splice(list.indexOf(w), 1);
            err('timeout', 'job not final in time', true);
          }, Number(m.fields.timeout_ms));
        }
        this.waiters.set(j.id, [...(this.waiters.get(j.id) ?? []), w]);
        return;
      }
      case 'GET': {
        const j = this.jobs.get(Number(m.fields.job));
        return j ? s.send('JOB', id, this.jobFields(j)) : err('not_found', 'no such job');
      }
      case 'CANCEL': {
        const j = this.jobs.get(Number(m.fields.job));
        if (!j) return err('not_found', 'no such job');
        if (this.isFinal(j)) return err('conflict', `job is ${j.status}`);
        if (j.status === 'running' && j.worker) {
          j.worker.send('ABANDON', 0, { job: j.id, attempt: j.attempt, reason: 'cancelled' });
          j.worker.running--;
          j.worker = undefined;
        }
        j.status = 'cancelled';
        s.send('JOB', id, this.jobFields(j));
        this.complete(j);
        return;
      }
      case 'RETRY': {
        const j = this.jobs.get(Number(m.fields.job));
        if (!j) return err('not_found', 'no such job');
        if (j.status !== 'dead' && j.status !== 'cancelled') return err('conflict', `job is ${j.status}`);
        j.status = 'pending';
        j.attempt = 0;
        s.send('JOB', id, this.jobFields(j));
        this.schedule();
        return;
      }
      case 'LIST': {
        const f = m.fields;
        const limit = Number(f.limit ?? 100);
        const all = [...this.jobs.values()]
          .filter((j) => (f.status === undefined || j.status === f.status) && (f.name === undefined || j.name === f.name))
          .filter((j) => f.after === undefined || j.id < Number(f.after))
          .sort((a, b) => b.id - a.id);
        const page = all.slice(0, limit);
        const more = all.length > limit;
        s.send('JOBS', id, { jobs: page.map((j) => this.jobFields(j)), ...(more ? { next: page[page.length - 1]!.id } : {}) });
        return;
      }
      default:
        err('unexpected', `a client does not send ${m.type}`);
    }
  }

  private isFinal(j: FakeJob): boolean {
    return j.status === 'success' || j.status === 'dead' || j.status === 'cancelled';
  }

  private sendCompleted(s: FakeSession, id: number, j: FakeJob): void {
    s.send('COMPLETED', id, {
      job: j.id,
      status: j.status as 'success' | 'dead' | 'cancelled',
      attempt: j.attempt,
      ...(j.result && j.status === 'success' ? { result: j.result } : {}),
      ...(j.error !== undefined && j.status === 'dead' ? { error: j.error } : {}),
    });
  }

  private complete(j: FakeJob): void {
    if (!this.isFinal(j)) return;
    const list = this.waiters.get(j.id) ?? [];
    this.waiters.delete(j.id);
    for (const w of list) {
      clearTimeout(w.timer);
      this.sendCompleted(w.s, w.id, j);
    }
  }

  /** Dispatch every pending job to a session that serves it and has room. */
  private schedule(): void {
    for (const j of [...this.jobs.values()].sort((a, b) => a.id - b.id)) {
      if (j.status !== 'pending') continue;
      const s = [...this.sessions].find((x) => x.names.has(j.name) && x.running < x.concurrency);
      if (!s) continue;
      j.status = 'running';
      j.attempt++;
      j.worker = s;
      s.running++;
      s.send('DISPATCH', 0, { job: j.id, name: j.name, args: j.args, attempt: j.attempt, max_attempts: j.maxAttempts, deadline: Date.now() + j.timeoutMs });
    }
  }
}
