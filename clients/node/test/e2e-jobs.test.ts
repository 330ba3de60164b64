/*
 * END TO END, real reseoliod + PostgreSQL: retries and dead jobs with their errors in
 * result(), events in order, the handler's job context and AbortSignal on cancellation,
 * cancel / retry / list / getJob, arguments and results of every MessagePack kind, values
 * that cannot be encoded, stop(), and many jobs at once.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AbandonedError, JobFailedError, NonRetryableError, Reseolio, ReseolioError, type JobContext, type JobInfo } from '../src/index';
import { useEnv } from './support/e2e';
import { Countdown, deferred, nextEvent, withTimeout } from './support/wait';

const EVENTS = ['job:start', 'job:error', 'job:retry', 'job:success', 'job:dead', 'job:ack-failed'] as const;

/** Every job event of r as `event#attempt`, per job id. */
function recordEvents(r: Reseolio): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  for (const ev of EVENTS) {
    r.on(ev as 'job:start', (job: JobInfo) => {
      const list = seen.get(job.jobId) ?? [];
      list.push(`${ev}#${job.attempt}`);
      seen.set(job.jobId, list);
    });
  }
  return seen;
}

const isFailed = (status: string, jobError?: string) => (e: unknown) => {
  assert.ok(e instanceof JobFailedError, `a JobFailedError, got ${String(e)}`);
  assert.equal(e.status, status);
  if (jobError !== undefined) assert.equal(e.jobError, jobError);
  return true;
};

describe('retries, dead jobs and events, end to end', { timeout: 120_000 }, () => {
  const env = useEnv('jobs');

  test('fails twice, then succeeds: the value, and events in the order of the job’s life', async () => {
    const r = env.client();
    const events = recordEvents(r);
    let calls = 0;
    const flaky = r.durable(env.name('jobs:flaky'), async () => {
      if (++calls < 3) throw new Error(`boom ${calls}`);
      return { calls };
    }, { initialDelayMs: 20, jitter: 0 });
    await r.start();
    const success = nextEvent(r, 'job:success');
    const h = await flaky();
    assert.deepEqual(await h.result(20_000), { calls: 3 });
    await success;
    assert.deepEqual(events.get(h.jobId), [
      'job:start#1', 'job:error#1', 'job:retry#1',
      'job:start#2', 'job:error#2', 'job:retry#2',
      'job:start#3', 'job:success#3',
    ]);
    const d = await h.details();
    assert.equal(d.status, 'success');
    assert.equal(d.attempt, 3);
    assert.deepEqual(d.result, { calls: 3 });
  });

  test('out of attempts: job:dead, and result() rejects with the last error', async () => {
    const r = env.client();
    const events = recordEvents(r);
    let calls = 0;
    const doomed = r.durable(env.name('jobs:doomed'), async () => {
      throw new TypeError(`bad input ${++calls}`);
    }, { maxAttempts: 2, initialDelayMs: 20, jitter: 0 });
    await r.start();
    const dead = nextEvent<[JobInfo, unknown]>(r, 'job:dead');
    const h = await doomed();
    await assert.rejects(h.result(20_000), isFailed('dead', 'TypeError: bad input 2'));
    const [job, err] = await dead;
    assert.equal(job.jobId, h.jobId);
    assert.equal((err as Error).message, 'bad input 2');
    assert.deepEqual(events.get(h.jobId), ['job:start#1', 'job:error#1', 'job:retry#1', 'job:start#2', 'job:error#2', 'job:dead#2']);
    // result() of a job that is already dead rejects at once, the same way
    await assert.rejects(h.result(1000), isFailed('dead', 'TypeError: bad input 2'));
  });

  test('stats(): the daemon, its database and this function’s counters (STATS)', async () => {
    const r = env.client();
    const name = env.name('jobs:counted');
    const fn = r.durable(name, async (ok: boolean) => {
      if (!ok) throw new NonRetryableError('no');
      return 1;
    });
    await r.start();
    await (await fn(true)).result(20_000);
    await assert.rejects((await fn(false)).result(20_000), isFailed('dead'));
    let s = await r.stats();
    // the outcome is counted when its commit is answered, which may follow the AWAIT's answer
    for (let i = 0; i < 100 && Number(s.functions.find((f) => f.name === name)?.dead ?? 0) < 1; i++) {
      await new Promise((res) => setTimeout(res, 50));
      s = await r.stats();
    }
    assert.match(s.server, /^reseoliod\//);
    assert.equal(s.node, r.daemon?.node);
    assert.equal(s.storage_up, true);
    assert.equal(s.schema.length > 0, true);
    assert.ok(Number(s.connections) >= 1 && Number(s.workers) >= 1);
    assert.ok(s.nodes.some((n) => n.id === s.node));
    const f = s.functions.find((x) => x.name === name);
    assert.ok(f, 'the function has counters');
    assert.deepEqual(
      [f.enqueued, f.started, f.succeeded, f.failed, f.dead, f.timed_out, f.reclaimed].map(Number),
      [2, 2, 1, 1, 1, 0, 0],
    );
  });

  test('NonRetryableError (or retryable: false) ends the job at its first attempt', async () => {
    const r = env.client();
    let runs = 0;
    const once = r.durable(env.name('jobs:nonretry'), async (how: string) => {
      runs++;
      if (how === 'class') throw new NonRetryableError('card declined');
      throw Object.assign(new Error('gone for good'), { retryable: false });
    }, { maxAttempts: 5 });
    await r.start();
    await assert.rejects((await once('class')).result(20_000), isFailed('dead', 'NonRetryableError: card declined'));
    await assert.rejects((await once('prop')).result(20_000), isFailed('dead', 'gone for good'));
    assert.equal(runs, 2);
  });

  test('whatever is thrown becomes the job’s error text', async () => {
    const r = env.client();
    const thrower = r.durable(env.name('jobs:throws'), async (what: string) => {
      if (what === 'string') throw 'a plain string';
      if (what === 'nul') throw new Error('with\0nul');
      throw new Error('x'.repeat(70_000));
    }, { maxAttempts: 1 });
    await r.start();
    await assert.rejects((await thrower('string')).result(20_000), isFailed('dead', 'a plain string'));
    await assert.rejects((await thrower('nul')).result(20_000), isFailed('dead', 'with\\0nul'));
    await assert.rejects((await thrower('long')).result(20_000), (e: JobFailedError) => e.jobError!.length <= 65536 && e.jobError!.startsWith('xxx'));
  });

  test('a result that cannot be encoded is a dead job with a clear error, not a silent loss', async () => {
    const r = env.client();
    let runs = 0;
    const bad = r.durable(env.name('jobs:badresult'), async () => {
      runs++;
      return { callback: () => 1 };
    });
    await r.start();
    await assert.rejects((await bad()).result(20_000), (e: JobFailedError) => e.status === 'dead' && /cannot be encoded.*function/.test(e.jobError ?? ''));
    assert.equal(runs, 1);
  });

  test('the handler sees its job through Reseolio.currentJob(), across awaits', async () => {
    const r = env.client();
    let seen: JobContext | undefined;
    const f = r.durable(env.name('jobs:ctx'), async (x: number) => {
      await new Promise((res) => setImmediate(res));
      seen = Reseolio.currentJob();
      return x;
    }, { maxAttempts: 4, timeoutMs: 5000 });
    await r.start();
    const before = Date.now();
    const h = await f(1);
    await h.result();
    assert.ok(seen);
    assert.equal(seen.jobId, h.jobId);
    assert.equal(seen.name, f.durableName);
    assert.equal(seen.attempt, 1);
    assert.equal(seen.maxAttempts, 4);
    assert.ok(seen.deadline.getTime() >= before + 5000 - 50 && seen.deadline.getTime() <= Date.now() + 5000);
    assert.equal(seen.signal.aborted, false);
    assert.equal(Reseolio.currentJob(), undefined);
  });

  test('cancelling a running job fires its signal (reason cancelled); result() rejects cancelled', async () => {
    const r = env.client();
    const running = deferred<AbortSignal>();
    const aborted = deferred<unknown>();
    const events = recordEvents(r);
    const long = r.durable(env.name('jobs:cancel-running'), async () => {
      const { signal } = Reseolio.currentJob()!;
      signal.addEventListener('abort', () => aborted.resolve(signal.reason), { once: true });
      running.resolve(signal);
      await aborted.promise;
      return 'finished anyway';
    });
    await r.start();
    const h = await long();
    await withTimeout(running.promise, 20_000, 'the job to start');
    const d = await h.cancel();
    assert.equal(d.status, 'cancelled');
    const reason = await withTimeout(aborted.promise, 20_000, 'the abort signal');
    assert.ok(reason instanceof AbandonedError);
    assert.equal(reason.reason, 'cancelled');
    await assert.rejects(h.result(20_000), isFailed('cancelled'));
    assert.equal(await h.status(), 'cancelled');
    // its outcome was not sent: nothing but the start happened to it
    assert.deepEqual(events.get(h.jobId), ['job:start#1']);
  });
});

describe('cancel, retry, list and getJob, end to end', { timeout: 120_000 }, () => {
  const env = useEnv('ops');

  test('a cancelled pending job never runs; a later one of the same function does', async () => {
    const r = env.client();
    const ran: string[] = [];
    const ranLater = deferred();
    const f = r.durable(env.name('ops:pending'), async (tag: string) => {
      ran.push(tag);
      if (tag === 'later') ranLater.resolve();
    });
    await r.start();
    // due in 1 s: cancelled long before; the later job is due after it, so once the later one
    // has run, the cancelled one would have run too
    const first = await f.enqueue(['cancelled'], { delayMs: 1000 });
    const cancelled = await r.cancelJob(first.jobId);
    assert.equal(cancelled.status, 'cancelled');
    await f.enqueue(['later'], { delayMs: 1200 });
    await withTimeout(ranLater.promise, 20_000, 'the later job');
    assert.deepEqual(ran, ['later']);
    await assert.rejects(first.result(), isFailed('cancelled'));
  });

  test('cancel of a final job is conflict; unknown ids are not_found', async () => {
    const r = env.client();
    const f = r.durable(env.name('ops:final'), async () => 'done');
    await r.start();
    const h = await f();
    await h.result();
    await assert.rejects(h.cancel(), (e: ReseolioError) => e instanceof ReseolioError && e.code === 'conflict');
    await assert.rejects(r.getJob('999999999'), (e: ReseolioError) => e.code === 'not_found');
    await assert.rejects(r.cancelJob(999999999), (e: ReseolioError) => e.code === 'not_found');
    await assert.rejects(r.retryJob(999999999n), (e: ReseolioError) => e.code === 'not_found');
    // nobody serves this one: result(timeoutMs) gives up, retryable
    const orphan = await r.enqueue(env.name('ops:nobody'), []);
    await assert.rejects(orphan.result(10), (e: ReseolioError) => e.code === 'timeout' && e.retryable);
  });

  test('retryJob: a dead job runs again with fresh attempts; the same handle then resolves', async () => {
    const r = env.client();
    let healthy = false;
    let runs = 0;
    const f = r.durable(env.name('ops:retry'), async () => {
      runs++;
      if (!healthy) throw new Error('downstream is down');
      return 'recovered';
    }, { maxAttempts: 1 });
    await r.start();
    const h = await f();
    await assert.rejects(h.result(20_000), isFailed('dead', 'downstream is down'));
    healthy = true;
    const again = await r.retryJob(h.jobId);
    assert.ok(['pending', 'running', 'success'].includes(again.status), again.status);
    assert.equal(await h.result(20_000), 'recovered');
    assert.equal(runs, 2);
    const d = await h.details();
    assert.equal(d.status, 'success');
    assert.equal(d.attempt, 2);
    await assert.rejects(r.retryJob(h.jobId), (e: ReseolioError) => e.code === 'conflict');
  });

  test('retryJob of a cancelled job runs it', async () => {
    const r = env.client();
    const f = r.durable(env.name('ops:retry-cancelled'), async () => 'ran');
    await r.start();
    const h = await f.enqueue([], { delayMs: 60_000 });
    await h.cancel();
    await r.retryJob(h.jobId);
    assert.equal(await h.result(20_000), 'ran');
  });

  test('getJob: every field, by string, number or bigint id', async () => {
    const r = env.client();
    const f = r.durable(env.name('ops:get'), async (a: string) => a.toUpperCase(), { maxAttempts: 7 });
    await r.start();
    const created = Date.now();
    const h = await f('abc', { idempotencyKey: 'get-1', priority: 3 });
    await h.result();
    for (const id of [h.jobId, Number(h.jobId), BigInt(h.jobId)]) {
      const d = await r.getJob(id);
      assert.equal(d.jobId, h.jobId);
      assert.equal(d.name, f.durableName);
      assert.equal(d.status, 'success');
      assert.equal(d.attempt, 1);
      assert.equal(d.maxAttempts, 7);
      assert.deepEqual(d.args, ['abc']);
      assert.equal(d.result, 'ABC');
      assert.equal(d.error, undefined);
      assert.equal(d.idempotencyKey, 'get-1');
      assert.equal(d.priority, 3);
      for (const t of [d.createdAt, d.runAt, d.startedAt!, d.finishedAt!]) {
        assert.ok(t instanceof Date && Math.abs(t.getTime() - created) < 10_000, String(t));
      }
      assert.ok(d.createdAt <= d.startedAt! && d.startedAt! <= d.finishedAt!);
    }
    await assert.rejects(r.getJob('not-an-id'), (e: ReseolioError) => e.code === 'bad_value');
  });

  test('listJobs: newest first, filtered by name and status, paged with next', async () => {
    const r = env.client();
    const name = env.name('ops:list');
    const f = r.durable(name, async (i: number) => {
      if (i % 3 === 0) throw new NonRetryableError('multiple of three');
      return i;
    });
    await r.start();
    const hs = [];
    for (let i = 1; i <= 7; i++) hs.push(await f(i));
    await Promise.allSettled(hs.map((h) => h.result(20_000)));
    const ids = hs.map((h) => h.jobId).reverse();
    const all = await r.listJobs({ name });
    assert.deepEqual(all.jobs.map((j) => j.jobId), ids);
    assert.equal(all.next, undefined);
    const dead = await r.listJobs({ name, status: 'dead' });
    assert.deepEqual(dead.jobs.map((j) => j.args[0]), [6, 3]);
    const paged: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await r.listJobs({ name, limit: 3, ...(after ? { after } : {}) });
      paged.push(...page.jobs.map((j) => j.jobId));
      after = page.next;
      pages++;
    } while (after !== undefined && pages < 10);
    assert.deepEqual(paged, ids);
    assert.equal(pages, 3);
    await assert.rejects(r.listJobs({ limit: 0 }), (e: ReseolioError) => e.code === 'bad_value');
  });
});

describe('arguments and results, end to end', { timeout: 60_000 }, () => {
  const env = useEnv('values');

  test('every MessagePack kind round-trips through the daemon and PostgreSQL, as arguments and as a result', async () => {
    const r = env.client();
    const echo = r.durable(env.name('values:echo'), async (...args: unknown[]) => args);
    await r.start();
    const values: unknown[] = [
      null, true, false,
      0, 1, -1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31),
      2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -0.25, 1e300, Number.MIN_VALUE, Infinity, -Infinity, NaN,
      2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n,
      '', 'héllo wörld 🌍', 'x'.repeat(100_000), '\u0000 inside',
      new Uint8Array([]), new Uint8Array([0, 1, 2, 255]),
      [], [1, [2, [3, [4]]]], {}, { a: 1, nested: { list: [true, null, 'x'], empty: {} } }, { 'key with spaces': 1, '': 2 },
      new Date(0), new Date('2026-11-27T21:00:00.123Z'), new Date(-1), new Date(8.64e15), new Date(1234.5),
    ];
    const h = await echo.enqueue(values);
    const out = (await h.result(20_000)) as unknown[];
    const expect = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v) : v instanceof Date ? new Date(Math.trunc(v.getTime())) : v);
    assert.equal(out.length, values.length);
    values.forEach((v, i) => {
      const got = out[i];
      // integers beyond 32 bits may come back as bigint (MessagePack int64/uint64); the value is the same
      if (typeof v === 'number' && Number.isInteger(v) && typeof got === 'bigint') assert.equal(got, BigInt(v), `value ${i}`);
      else if (typeof v === 'bigint' && typeof got === 'number') assert.equal(BigInt(got), v, `value ${i}`);
      else assert.deepEqual(got, expect(v), `value ${i} (${typeof v})`);
    });
    // JSON's rules for undefined
    assert.deepEqual(await (await echo.enqueue([[undefined, 1], { a: undefined, b: 2 }])).result(20_000), [[null, 1], { b: 2 }]);
    const d = await h.details();
    assert.equal(d.args.length, values.length);
  });

  test('what cannot be encoded is refused at the call with a clear error, and nothing is enqueued', async () => {
    const r = env.client();
    const name = env.name('values:refused');
    const f = r.durable(name, async (...a: unknown[]) => a.length);
    await r.start();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, RegExp][] = [
      [() => 1, /function/],
      [Symbol('s'), /symbol/],
      [cyclic, /cyclic/],
      [new Date(NaN), /invalid Date/],
      [2n ** 64n, /./],
      [-(2n ** 63n) - 1n, /./],
    ];
    for (const [v, re] of cases) {
      await assert.rejects(f.enqueue([v]), (e: ReseolioError) => {
        assert.ok(e instanceof ReseolioError, String(e));
        assert.equal(e.code, 'bad_value');
        assert.match(e.message, new RegExp(`the arguments of ${name} cannot be encoded`));
        assert.match(e.message, re);
        return true;
      });
    }
    // larger than the daemon's frame limit: refused before sending, the session goes on
    await assert.rejects(f.enqueue([new Uint8Array(2 * 1024 * 1024)]), (e: ReseolioError) => e.code === 'frame_too_large');
    assert.equal((await r.listJobs({ name })).jobs.length, 0);
    assert.equal(await (await f(1, 2)).result(20_000), 2);
  });
});

describe('stop() and many jobs, end to end', { timeout: 120_000 }, () => {
  const env = useEnv('stop');

  test('stop() lets a running job finish and records its outcome', async () => {
    const r = env.client();
    const started = deferred();
    const release = deferred();
    const f = r.durable(env.name('stop:finish'), async () => {
      started.resolve();
      await release.promise;
      return 'finished during stop';
    });
    await r.start();
    const h = await f();
    await withTimeout(started.promise, 20_000, 'the job to start');
    const success = nextEvent(r, 'job:success');
    const stopping = r.stop({ timeoutMs: 20_000 });
    release.resolve();
    await stopping;
    await success;
    const observer = env.client();
    await observer.start();
    assert.equal((await observer.getJob(h.jobId)).result, 'finished during stop');
  });

  test('stop() abandons what outlasts its timeout (signal: shutdown); another worker then runs the job', async () => {
    const name = env.name('stop:handover');
    const first = env.client();
    const started = deferred();
    let firstReason: unknown;
    first.durable(name, async () => {
      const { signal } = Reseolio.currentJob()!;
      started.resolve();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      firstReason = signal.reason;
      return 'too late';
    });
    await first.start();
    const h = await first.enqueue(name, []);
    await withTimeout(started.promise, 20_000, 'the job to start');
    await first.stop({ timeoutMs: 50 });
    assert.ok(firstReason instanceof AbandonedError && firstReason.reason === 'shutdown', String(firstReason));
    const second = env.client();
    second.durable(name, async () => `run by the second worker, attempt ${Reseolio.currentJob()!.attempt}`);
    await second.start();
    // a handle by id, from the process that did not enqueue it
    assert.match(String(await second.handle(h.jobId).result(20_000)), /^run by the second worker, attempt [2-9]$/);
  });

  test('stop() hands back a job it had to abandon without spending its attempt', async () => {
    const name = env.name('stop:unspent');
    const first = env.client();
    const started = deferred();
    first.durable(name, async () => {
      started.resolve();
      await new Promise<void>((resolve) => Reseolio.currentJob()!.signal.addEventListener('abort', () => resolve(), { once: true }));
      return 'too late';
    }, { maxAttempts: 1 });
    const released = nextEvent(first, 'job:released');
    await first.start();
    const h = await first.enqueue(name, []);
    await withTimeout(started.promise, 20_000, 'the job to start');
    await first.stop({ timeoutMs: 50 });
    const [info] = (await released) as [JobInfo];
    assert.equal(info.jobId, h.jobId);
    const second = env.client();
    await second.start();
    // handed back, not failed: pending again (no worker for it yet), no error recorded
    const waiting = await second.getJob(h.jobId);
    assert.equal(waiting.status, 'pending');
    assert.equal(waiting.attempt, 1);
    assert.equal(waiting.error, undefined);
    second.durable(name, async () => `run by the second worker, attempt ${Reseolio.currentJob()!.attempt} of ${Reseolio.currentJob()!.maxAttempts}`, { maxAttempts: 1 });
    assert.equal(await second.handle(h.jobId).result(20_000), 'run by the second worker, attempt 2 of 2');
    const done = await second.getJob(h.jobId);
    assert.equal(done.status, 'success');
    assert.equal(done.attempt, 2);
  });

  test('a thousand jobs through one worker process: every result comes back', async () => {
    const r = env.client({ workerConcurrency: 50 });
    const done = new Countdown();
    const square = r.durable(env.name('stop:many'), async (i: number) => {
      done.tick();
      return i * i;
    });
    await r.start();
    const hs = await Promise.all(Array.from({ length: 1000 }, (_, i) => square(i)));
    const results = await withTimeout(Promise.all(hs.map((h) => h.result())), 60_000, 'a thousand results');
    assert.deepEqual(results, Array.from({ length: 1000 }, (_, i) => i * i));
    assert.equal(done.count, 1000);
  });

  test('a client naming other storage than the daemon serves is refused at start()', async () => {
    const r = env.client({ storage: env.storage.replace(/dbname=\S+/, 'dbname=some_other_db') });
    await assert.rejects(r.start(), (e: ReseolioError) => e.code === 'storage_mismatch' && /some_other_db/.test(e.message));
  });
});
