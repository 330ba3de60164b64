/*
 * CLIENT-LOGIC TESTS against a test double of the daemon (test/fake-daemon.ts) over a real
 * Unix socket: request matching, the worker loop (DISPATCH → handler → ACK), ABANDON, result(),
 * events, options and reconnection. They check this client, not reseoliod, including what the
 * real daemon cannot easily be made to do (odd replies, held answers); the e2e-*.test.ts
 * suites run the same paths against the real daemon and PostgreSQL.
 */

import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';

import { Connection } from '../src/connection';
import { AbandonedError, JobFailedError, NonRetryableError, Reseolio, ReseolioError, type JobContext } from '../src/index';
import { decodeArgs, decodeResult, encodeArgs } from '../src/payload';
import type { Message } from '../src/schema';
import { FakeDaemon } from './fake-daemon';
import { tempSocketDir, waitFor } from './helpers';

let tmp: ReturnType<typeof tempSocketDir>;
let fake: FakeDaemon;
const clients: Reseolio[] = [];

function client(opts: ConstructorParameters<typeof Reseolio>[0] = {}): Reseolio {
  const r = new Reseolio({ socket: tmp.socket, autoStart: false, ...opts });
  clients.push(r);
  return r;
}

beforeEach(async () => {
  tmp = tempSocketDir();
  fake = new FakeDaemon(tmp.socket);
  await fake.listen();
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop({ timeoutMs: 200 });
  await fake.close();
  tmp.cleanup();
});

after(() => undefined);

describe('connection (client logic, fake daemon)', () => {
  test('replies are matched by request id, not by order', async () => {
    const held: { id: number; s: { send: (...a: never[]) => void } }[] = [];
    fake.opts.intercept = (m: Message, s) => {
      if (m.type !== 'PING') return false;
      if (held.length === 0) {
        held.push({ id: m.requestId, s: s as never });
        return true; // hold the first PING's answer back
      }
      return false;
    };
    const conn = await Connection.open({ socketPath: tmp.socket, clientName: 'test' });
    const order: string[] = [];
    const first = conn.request('PING', {}).then(() => void order.push('first'));
    const second = conn.request('PING', {}).then(() => void order.push('second'));
    await second;
    const h = held[0]!;
    (h.s as unknown as { send: (t: string, id: number, f: object) => void }).send('PONG', h.id, {});
    await first;
    assert.deepEqual(order, ['second', 'first']);
    conn.close();
  });

  test('frames queued in one turn of the event loop go out in one write', async () => {
    const conn = await Connection.open({ socketPath: tmp.socket, clientName: 'test' });
    const session = [...fake.sessions][0]!;
    const before = session.dataEvents;
    await Promise.all(Array.from({ length: 50 }, () => conn.request('PING', {})));
    assert.equal(session.dataEvents - before, 1);
    conn.close();
  });

  test('the pending map is bounded', async () => {
    fake.opts.intercept = (m) => m.type === 'PING'; // never answered
    const conn = await Connection.open({ socketPath: tmp.socket, clientName: 'test', maxPending: 2 });
    const a = conn.request('PING', {});
    const b = conn.request('PING', {});
    await assert.rejects(conn.request('PING', {}), (e: ReseolioError) => e.code === 'limit' && e.retryable);
    assert.equal(conn.pendingCount, 2);
    conn.close();
    await assert.rejects(a, (e: ReseolioError) => e.code === 'unavailable' && e.retryable);
    await assert.rejects(b);
    assert.equal(conn.pendingCount, 0);
  });

  test('an ERROR reply rejects its request with code and retryable', async () => {
    fake.opts.intercept = (m, s) => {
      if (m.type !== 'GET') return false;
      s.send('ERROR', m.requestId, { code: 'unavailable', message: 'PostgreSQL unreachable', retryable: true });
      return true;
    };
    const r = client();
    await r.start();
    await assert.rejects(r.getJob('5'), (e: ReseolioError) => e instanceof ReseolioError && e.code === 'unavailable' && e.retryable);
  });

  test('an unknown error code counts as internal', async () => {
    fake.opts.intercept = (m, s) => {
      if (m.type !== 'GET') return false;
      s.send('ERROR', m.requestId, { code: 'from_the_future', message: 'x' });
      return true;
    };
    const r = client();
    await r.start();
    await assert.rejects(r.getJob(1), (e: ReseolioError) => e.code === 'internal');
  });

  test('a reply the client cannot read rejects that request and keeps the session', async () => {
    fake.opts.intercept = (m, s) => {
      if (m.type !== 'GET') return false;
      // JOB without its required fields
      s.socket.write(Buffer.from([0, 0, 0, 4, 0x93, 0x19, m.requestId, 0x80]));
      return true;
    };
    const r = client();
    await r.start();
    await assert.rejects(r.getJob(1), (e: ReseolioError) => e.code === 'missing_field');
    assert.ok((await r.ping()) >= 0);
  });

  test('storage mismatch is a clear error at start()', async () => {
    fake.opts.storage = 'postgresql://app@db:5432/app';
    const r = client({ storage: 'postgresql://app@db:5432/other' });
    await assert.rejects(r.start(), (e: ReseolioError) => e.code === 'storage_mismatch');
  });
});

describe('durable functions (client logic, fake daemon)', () => {
  test('call → ENQUEUE → DISPATCH → handler → ACK → result()', async () => {
    const r = client();
    const add = r.durable('math:add', async (a: number, b: number) => a + b);
    await r.start();
    const h = await add(2, 3);
    assert.match(h.jobId, /^\d+$/);
    assert.equal(h.deduplicated, false);
    assert.equal(await h.result(), 5);
    const [enq] = fake.of('ENQUEUE');
    assert.equal(enq!.name, 'math:add');
    assert.deepEqual(decodeArgs(enq!.args), [2, 3]);
    const [ack] = fake.of('ACK');
    assert.equal(ack!.ok, true);
    assert.equal(decodeResult(ack!.result), 5);
    const reg = fake.of('REGISTER');
    assert.deepEqual(reg[0], { names: ['math:add'], concurrency: 10 });
    const d = await h.details();
    assert.equal(d.status, 'success');
    assert.equal(d.result, 5);
    assert.deepEqual(d.args, [2, 3]);
    assert.equal(await h.status(), 'success');
  });

  test('the handler sees its job through Reseolio.currentJob()', async () => {
    const r = client();
    let seen: JobContext | undefined;
    const f = r.durable('ctx:see', async () => {
      await new Promise((res) => setTimeout(res, 1));
      seen = Reseolio.currentJob();
      return 'ok';
    });
    await r.start();
    const h = await f();
    await h.result();
    assert.ok(seen);
    assert.equal(seen.jobId, h.jobId);
    assert.equal(seen.attempt, 1);
    assert.equal(seen.maxAttempts, 3);
    assert.equal(seen.name, 'ctx:see');
    assert.equal(seen.signal.aborted, false);
    assert.equal(Reseolio.currentJob(), undefined);
  });

  test('retries then success: events in order', async () => {
    const r = client();
    const events: string[] = [];
    for (const ev of ['job:start', 'job:success', 'job:error', 'job:retry', 'job:dead'] as const) {
      r.on(ev, (...a: [{ attempt: number }, ...unknown[]]) => void events.push(`${ev}#${a[0].attempt}`));
    }
    let calls = 0;
    const flaky = r.durable('flaky:op', async () => {
      if (++calls < 3) throw new Error(`boom ${calls}`);
      return { calls };
    });
    await r.start();
    const h = await flaky();
    assert.deepEqual(await h.result(), { calls: 3 });
    await waitFor(() => events.length === 8, 2000, 'events');
    assert.deepEqual(events, [
      'job:start#1',
      'job:error#1',
      'job:retry#1',
      'job:start#2',
      'job:error#2',
      'job:retry#2',
      'job:start#3',
      'job:success#3',
    ]);
    const failures = fake.of('ACK').filter((a) => !a.ok);
    assert.deepEqual(
      failures.map((a) => [a.error, a.retryable]),
      [
        ['boom 1', true],
        ['boom 2', true],
      ],
    );
  });

  test('a dead job rejects result() with its last error', async () => {
    const r = client();
    const events: string[] = [];
    r.on('job:retry', () => events.push('retry'));
    r.on('job:dead', (_job, err) => events.push(`dead:${(err as Error).message}`));
    const f = r.durable('always:fails', async () => {
      throw new TypeError('card declined');
    }, { maxAttempts: 2 });
    await r.start();
    const h = await f();
    await assert.rejects(h.result(), (e: unknown) => {
      assert.ok(e instanceof JobFailedError);
      assert.equal(e.status, 'dead');
      assert.equal(e.jobId, h.jobId);
      assert.equal(e.attempt, 2);
      assert.equal(e.jobError, 'TypeError: card declined');
      return true;
    });
    await waitFor(() => events.length === 2, 2000, 'events');
    assert.deepEqual(events, ['retry', 'dead:card declined']);
    assert.equal(fake.of('ENQUEUE')[0]!.max_attempts, 2);
  });

  test('NonRetryableError ends the job at the first attempt', async () => {
    const r = client();
    const f = r.durable('no:retry', async () => {
      throw new NonRetryableError('invalid input');
    });
    await r.start();
    const h = await f();
    await assert.rejects(h.result(), (e: JobFailedError) => e.status === 'dead' && e.attempt === 1);
    assert.equal(fake.of('ACK')[0]!.retryable, false);
  });

  test('cancel: ABANDON fires the signal, no ACK is sent, result() rejects cancelled', async () => {
    const r = client();
    let reason: unknown;
    const started = { v: false };
    const f = r.durable('long:task', async () => {
      const { signal } = Reseolio.currentJob()!;
      started.v = true;
      await new Promise<void>((res) => signal.addEventListener('abort', () => res()));
      reason = signal.reason;
      return 'late';
    });
    await r.start();
    const h = await f();
    await waitFor(() => started.v, 2000, 'handler start');
    const pending = h.result();
    const d = await h.cancel();
    assert.equal(d.status, 'cancelled');
    await assert.rejects(pending, (e: JobFailedError) => e instanceof JobFailedError && e.status === 'cancelled');
    await waitFor(() => reason !== undefined, 2000, 'abort');
    assert.ok(reason instanceof AbandonedError);
    assert.equal(reason.reason, 'cancelled');
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(fake.of('ACK').length, 0);
  });

  test('stop(): REGISTER concurrency 0 first; a DISPATCH sent before it is handed back unstarted', async () => {
    let ran = false;
    const r = client();
    r.durable('late:dispatch', async () => {
      ran = true;
    });
    await r.start();
    // the daemon claimed a job for this worker just before it read the drain
    const raced = fake.opts.intercept;
    fake.opts.intercept = (m, s) => {
      if (m.type === 'ACK' && Number(m.fields.job) === 77) {
        s.send('OK', m.requestId, {});
        return true;
      }
      if (m.type !== 'REGISTER' || Number(m.fields.concurrency) !== 0) return false;
      s.send('DISPATCH', 0, { job: 77, name: 'late:dispatch', args: encodeArgs([], 'args'), attempt: 1, max_attempts: 1, deadline: Date.now() + 30_000 });
      s.send('OK', m.requestId, {});
      return true;
    };
    const released: string[] = [];
    r.on('job:released', (j) => released.push(`${j.jobId}:${j.attempt}`));
    await r.stop({ timeoutMs: 2000 });
    fake.opts.intercept = raced;
    assert.deepEqual(
      fake.of('REGISTER').map((f) => Number(f.concurrency)),
      [10, 0],
    );
    assert.deepEqual(fake.of('ACK'), [{ job: 77, attempt: 1, ok: false, release: true }]);
    assert.deepEqual(released, ['77:1']);
    assert.equal(ran, false);
  });

  test('stop(): what outlasts the timeout is aborted (shutdown) and handed back with ACK release', async () => {
    const r = client();
    let reason: unknown;
    const f = r.durable('slow:task', async () => {
      const { signal } = Reseolio.currentJob()!;
      await new Promise<void>((res) => signal.addEventListener('abort', () => res()));
      reason = signal.reason;
      return 'too late';
    });
    await r.start();
    const h = await f();
    await waitFor(() => fake.jobs.get(Number(h.jobId))?.status === 'running', 2000, 'dispatch');
    await r.stop({ timeoutMs: 50 });
    assert.ok(reason instanceof AbandonedError && reason.reason === 'shutdown', String(reason));
    const acks = fake.of('ACK');
    assert.deepEqual(acks, [{ job: Number(h.jobId), attempt: 1, ok: false, release: true }]);
    assert.equal(fake.jobs.get(Number(h.jobId))?.status, 'pending');
  });

  test('the signal fires at the attempt deadline', async () => {
    const r = client();
    let reason: unknown;
    const f = r.durable('slow:task', async () => {
      const { signal } = Reseolio.currentJob()!;
      await new Promise<void>((res) => signal.addEventListener('abort', () => res()));
      reason = signal.reason;
      throw signal.reason;
    }, { timeoutMs: 30 });
    await r.start();
    await f();
    await waitFor(() => reason !== undefined, 2000, 'timeout abort');
    assert.equal((reason as AbandonedError).reason, 'timeout');
    assert.equal(fake.of('ENQUEUE')[0]!.timeout_ms, 30);
  });

  test('per-call options: trailing object, withOptions() and enqueue()', async () => {
    const r = client();
    const charge = r.durable('billing:charge', async (amount: number) => amount, {
      maxAttempts: 5,
      backoff: 'linear',
      initialDelayMs: 100,
      maxDelayMs: 1000,
      jitter: 0,
      timeoutMs: 5000,
      priority: 3,
    });
    await r.start();
    const a = await charge(10, { idempotencyKey: 'charge-1' });
    const b = await charge(10, { idempotencyKey: 'charge-1' });
    assert.equal(b.jobId, a.jobId);
    assert.equal(b.deduplicated, true);
    const c = await charge.withOptions({ idempotencyKey: 'charge-2', priority: 9 })(20);
    const d = await charge.enqueue([30], { delayMs: 5 });
    const e = await charge(40);
    assert.notEqual(c.jobId, a.jobId);
    const enq = fake.of('ENQUEUE');
    assert.deepEqual(decodeArgs(enq[0]!.args), [10]);
    assert.equal(enq[0]!.key, 'charge-1');
    assert.equal(enq[0]!.max_attempts, 5);
    assert.equal(enq[0]!.backoff, 'linear');
    assert.equal(enq[0]!.initial_delay_ms, 100);
    assert.equal(enq[0]!.max_delay_ms, 1000);
    assert.equal(enq[0]!.jitter, 0);
    assert.equal(enq[0]!.timeout_ms, 5000);
    assert.equal(enq[0]!.priority, 3);
    assert.equal(enq[2]!.key, 'charge-2');
    assert.equal(enq[2]!.priority, 9);
    assert.deepEqual(decodeArgs(enq[2]!.args), [20]);
    assert.equal(enq[3]!.delay_ms, 5);
    assert.deepEqual(decodeArgs(enq[3]!.args), [30]);
    assert.equal(enq[4]!.key, undefined);
    for (const h of [a, c, d, e]) await h.result();
  });

  test('a trailing object that the handler declares is an argument, not options', async () => {
    const r = client();
    const f = r.durable('takes:object', async (o: { idempotencyKey: string }) => o.idempotencyKey);
    await r.start();
    const h = await f({ idempotencyKey: 'data' });
    assert.equal(await h.result(), 'data');
    assert.equal(fake.of('ENQUEUE')[0]!.key, undefined);
  });

  test('arguments and results: Date, Uint8Array, bigint, nested objects', async () => {
    const r = client();
    const echo = r.durable('echo:all', async (d: Date, b: Uint8Array, n: bigint, o: object) => ({ d, b, n, o }));
    await r.start();
    const when = new Date(1700000000123);
    const h = await echo(when, new Uint8Array([1, 2, 3]), 2n ** 63n - 1n, { x: [1, 'two', null] });
    const out = await h.result();
    assert.ok(out.d instanceof Date);
    assert.equal(out.d.getTime(), when.getTime());
    assert.deepEqual([...out.b], [1, 2, 3]);
    assert.equal(out.n, 2n ** 63n - 1n);
    assert.deepEqual(out.o, { x: [1, 'two', null] });
  });

  test('an argument that cannot be encoded fails at the call and sends nothing', async () => {
    const r = client();
    const f = r.durable('bad:args', async (_x: unknown) => 1);
    await r.start();
    await assert.rejects(f(() => 1), (e: ReseolioError) => e.code === 'bad_value' && /function/.test(e.message));
    await assert.rejects(f(Symbol('s')), (e: ReseolioError) => e.code === 'bad_value' && /symbol/.test(e.message));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(f(cyclic), (e: ReseolioError) => e.code === 'bad_value' && /cyclic/.test(e.message));
    assert.equal(fake.of('ENQUEUE').length, 0);
  });

  test('a bad option fails at durable(), in the option name the user wrote', () => {
    const r = client();
    assert.throws(() => r.durable('x:y', async () => 1, { maxAttempts: 0 }), /option maxAttempts: out of range \(1\.\.1000\)/);
    assert.throws(() => r.durable('x:y', async () => 1, { jitter: 2 }), /option jitter/);
    assert.throws(() => r.durable('x:y', async () => 1, { backoff: 'quadratic' as never }), /option backoff/);
  });

  test('a second durable() of the same name is an error', () => {
    const r = client();
    r.durable('dup:name', async () => 1);
    assert.throws(() => r.durable('dup:name', async () => 2), (e: ReseolioError) => e.code === 'conflict');
  });

  test('durable functions defined after start() are registered too', async () => {
    const r = client();
    await r.start();
    const late = r.durable('late:one', async () => 'late');
    const h = await late();
    assert.equal(await h.result(), 'late');
    assert.deepEqual(fake.of('REGISTER').map((x) => x.names), [['late:one']]);
  });

  test('a durable function defined while start() is in flight is registered too', async () => {
    let held: (() => void) | undefined;
    fake.opts.intercept = (m, s) => {
      if (m.type !== 'REGISTER' || held) return false;
      // answer the first REGISTER only later, keeping start() in flight
      held = () => {
        for (const n of m.fields.names) s.names.add(n);
        s.concurrency = Number(m.fields.concurrency);
        s.send('OK', m.requestId, {});
      };
      return true;
    };
    const r = client();
    r.durable('first:one', async () => 1);
    const starting = r.start();
    await waitFor(() => held !== undefined, 2000, 'first REGISTER');
    const second = r.durable('second:one', async () => 2);
    held!();
    await starting;
    assert.equal(await (await second()).result(2000), 2);
    assert.deepEqual(fake.of('REGISTER').flatMap((x) => x.names).sort(), ['first:one', 'second:one']);
  });

  test('calls before start() fail clearly', async () => {
    const r = client();
    const f = r.durable('early:call', async () => 1);
    await assert.rejects(f(), /call start\(\)/);
  });

  test('getJob, cancelJob, retryJob and listJobs', async () => {
    const r = client();
    await r.start();
    const a = await r.enqueue('nobody:serves', [1]);
    const b = await r.enqueue('nobody:serves', [2], { idempotencyKey: 'k2' });
    const c = await r.enqueue('other:name', [3]);
    const got = await r.getJob(a.jobId);
    assert.equal(got.status, 'pending');
    assert.deepEqual(got.args, [1]);
    assert.ok(got.createdAt instanceof Date);
    const cancelled = await r.cancelJob(b.jobId);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.idempotencyKey, 'k2');
    await assert.rejects(r.cancelJob(b.jobId), (e: ReseolioError) => e.code === 'conflict');
    const retried = await r.retryJob(b.jobId);
    assert.equal(retried.status, 'pending');
    await assert.rejects(r.getJob('999999'), (e: ReseolioError) => e.code === 'not_found');
    const page1 = await r.listJobs({ name: 'nobody:serves', limit: 1 });
    assert.deepEqual(page1.jobs.map((j) => j.jobId), [b.jobId]);
    assert.equal(page1.next, b.jobId);
    const page2 = await r.listJobs({ name: 'nobody:serves', limit: 1, after: page1.next! });
    assert.deepEqual(page2.jobs.map((j) => j.jobId), [a.jobId]);
    const all = await r.listJobs();
    assert.deepEqual(all.jobs.map((j) => j.jobId), [c.jobId, b.jobId, a.jobId]);
    assert.equal(all.next, undefined);
    await assert.rejects(r.getJob('not-a-number'), (e: ReseolioError) => e.code === 'bad_value');
  });

  test('result(timeoutMs) rejects timeout when the job is not final in time', async () => {
    const r = client();
    await r.start();
    const h = await r.enqueue('nobody:serves', []);
    await assert.rejects(h.result(20), (e: ReseolioError) => e.code === 'timeout' && e.retryable);
    assert.equal(fake.of('AWAIT')[0]!.timeout_ms !== undefined, true);
  });

  test('result() survives a lost connection; workers register again', async () => {
    const caller = client();
    await caller.start();
    const h = await caller.enqueue('later:served', ['x']);
    const result = h.result();
    await waitFor(() => fake.of('AWAIT').length === 1, 2000, 'AWAIT');
    const reconnected = new Promise<void>((res) => caller.once('reconnected', res));
    fake.dropAll();
    await reconnected;
    const worker = client();
    worker.durable('later:served', async (s: string) => s.toUpperCase());
    await worker.start();
    assert.equal(await result, 'X');
    assert.equal(fake.of('AWAIT').length, 2);

    // the worker's registration is renewed after a drop too
    const again = new Promise<void>((res) => worker.once('reconnected', res));
    fake.dropAll();
    await again;
    const regs = fake.of('REGISTER').filter((x) => x.names.includes('later:served'));
    assert.equal(regs.length, 2);
  });

  test('a daemon that stops gracefully: refused requests and pending result() are sent again after the reconnection', async () => {
    const r = client();
    await r.start();
    const h = await r.enqueue('stopping:daemon', []);
    const result = h.result();
    await waitFor(() => fake.of('AWAIT').length === 1, 2000, 'AWAIT');
    // the next GET and the pending AWAIT are answered shutting_down, then the connection closes
    let refused = 0;
    fake.opts.intercept = (m, s) => {
      if (m.type !== 'GET' || refused > 0) return false;
      refused++;
      const awaitId = fake.received.find((x) => x.type === 'AWAIT')!.requestId;
      s.send('ERROR', awaitId, { code: 'shutting_down', message: 'the daemon is stopping', retryable: true });
      s.send('ERROR', m.requestId, { code: 'shutting_down', message: 'the daemon is stopping', retryable: true });
      setImmediate(() => s.socket.destroy());
      return true;
    };
    const details = await r.getJob(h.jobId);
    assert.equal(details.jobId, h.jobId);
    assert.equal(refused, 1);
    assert.equal(fake.of('GET').length, 2);
    await waitFor(() => fake.of('AWAIT').length === 2, 2000, 'the AWAIT sent again');
    const worker = client();
    worker.durable('stopping:daemon', async () => 'done');
    await worker.start();
    assert.equal(await result, 'done');
  });

  test('enqueue() by name uses the options of this instance’s durable() of that name', async () => {
    const r = client();
    r.durable('opts:by-name', async () => 1, { maxAttempts: 7, priority: 2 });
    await r.start();
    await r.enqueue('opts:by-name', [], { priority: 5 });
    await r.enqueue('opts:elsewhere', []);
    const [mine, other] = fake.of('ENQUEUE');
    assert.equal(mine!.max_attempts, 7);
    assert.equal(mine!.priority, 5);
    assert.equal(other!.max_attempts, undefined);
  });

  test('a running attempt is abandoned when the connection is lost', async () => {
    const r = client();
    let reason: unknown;
    let started = false;
    r.durable('cut:off', async () => {
      const { signal } = Reseolio.currentJob()!;
      started = true;
      await new Promise<void>((res) => signal.addEventListener('abort', () => res()));
      reason = signal.reason;
    });
    await r.start();
    await r.enqueue('cut:off', []);
    await waitFor(() => started, 2000, 'start');
    fake.dropAll();
    await waitFor(() => reason !== undefined, 2000, 'abort');
    assert.equal((reason as AbandonedError).reason, 'disconnected');
  });

  test('stop() lets a running job finish and records it, then takes no more', async () => {
    const r = client();
    let finish!: () => void;
    let started = 0;
    r.durable('graceful:job', async () => {
      started++;
      await new Promise<void>((res) => (finish = res));
      return 'done';
    });
    await r.start();
    await r.enqueue('graceful:job', []);
    await waitFor(() => started === 1, 2000, 'start');
    const stopping = r.stop({ timeoutMs: 5000 });
    await new Promise((res) => setTimeout(res, 20));
    finish();
    await stopping;
    const acks = fake.of('ACK');
    assert.equal(acks.length, 1);
    assert.equal(acks[0]!.ok, true);
    assert.equal(decodeResult(acks[0]!.result), 'done');
    await assert.rejects(r.enqueue('graceful:job', []), (e: ReseolioError) => e.code === 'shutting_down');
  });

  test('stop() abandons jobs that outlast its timeout', async () => {
    const r = client();
    let reason: unknown;
    r.durable('stuck:job', async () => {
      const { signal } = Reseolio.currentJob()!;
      await new Promise<void>((res) => signal.addEventListener('abort', () => res()));
      reason = signal.reason;
    });
    await r.start();
    await r.enqueue('stuck:job', []);
    await waitFor(() => fake.of('REGISTER').length === 1 && [...fake.jobs.values()][0]!.status === 'running', 2000, 'dispatch');
    await r.stop({ timeoutMs: 30 });
    assert.equal((reason as AbandonedError).reason, 'shutdown');
    // handed back unfinished, so that it does not spend an attempt
    assert.deepEqual(
      fake.of('ACK').map((a) => [a.ok, a.release]),
      [[false, true]],
    );
  });
});
