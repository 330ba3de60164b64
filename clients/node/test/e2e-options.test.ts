/*
 * END TO END, real reseoliod + PostgreSQL: each durable option changes behaviour as
 * documented (maxAttempts, the three backoff policies with measured delays, maxDelayMs,
 * jitter, timeoutMs with the AbortSignal, priority, delayMs and runAt), per-call overrides
 * and the explicit call forms, and idempotency keys.
 *
 * Timings are measured between the starts of consecutive attempts (performance.now() in the
 * handler). The delay the daemon applies is a lower bound of that gap; the upper bound allows
 * for the outcome's round trip, the claim and the dispatch, under sanitizers on a busy host.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AbandonedError, JobFailedError, Reseolio } from '../src/index';
import { useEnv } from './support/e2e';
import { Countdown, deferred, nextEvent, withTimeout } from './support/wait';

/** Below the daemon's delay only by clock granularity. */
const EARLY_MS = 15;
/** Above it by the round trips and scheduling of a loaded CI host with sanitizers. */
const LATE_MS = 600;

function assertGap(gap: number, expected: number, what: string): void {
  assert.ok(gap >= expected - EARLY_MS, `${what}: ${gap.toFixed(0)} ms, expected at least ${expected} ms`);
  assert.ok(gap <= expected + LATE_MS, `${what}: ${gap.toFixed(0)} ms, expected about ${expected} ms`);
}

/** Start times of each attempt of a handler that fails until the last attempt. */
async function attemptStarts(r: Reseolio, name: string, options: Parameters<Reseolio['durable']>[2], attempts: number): Promise<number[]> {
  const starts: number[] = [];
  const fn = r.durable(name, async () => {
    starts.push(performance.now());
    if (starts.length < attempts) throw new Error(`attempt ${starts.length} fails`);
    return starts.length;
  }, options);
  await r.start();
  const h = await fn();
  assert.equal(await h.result(30_000), attempts);
  return starts;
}

const gaps = (t: number[]) => t.slice(1).map((v, i) => v - t[i]!);

describe('options, end to end', { timeout: 120_000 }, () => {
  const env = useEnv('options');

  test('maxAttempts: a job that always fails runs exactly maxAttempts times, then is dead', async () => {
    const r = env.client();
    let runs = 0;
    const fail = r.durable(env.name('opt:max'), async () => {
      runs++;
      throw new Error(`fail #${runs}`);
    }, { maxAttempts: 2, initialDelayMs: 20, jitter: 0 });
    await r.start();
    const h = await fail();
    await assert.rejects(h.result(20_000), (e: JobFailedError) => {
      assert.ok(e instanceof JobFailedError);
      assert.equal(e.status, 'dead');
      assert.equal(e.attempt, 2);
      assert.equal(e.jobError, 'fail #2');
      assert.match(e.message, /failed after 2 attempt\(s\): fail #2/);
      return true;
    });
    assert.equal(runs, 2);
    const d = await h.details();
    assert.equal(d.status, 'dead');
    assert.equal(d.attempt, 2);
    assert.equal(d.maxAttempts, 2);
    assert.equal(d.error, 'fail #2');
    assert.ok(d.finishedAt instanceof Date);
  });

  test('maxAttempts defaults to 3', async () => {
    const r = env.client();
    let runs = 0;
    const fail = r.durable(env.name('opt:max3'), async () => {
      throw new Error(`fail #${++runs}`);
    }, { initialDelayMs: 20, jitter: 0 });
    await r.start();
    await assert.rejects((await fail()).result(20_000), (e: JobFailedError) => e.attempt === 3 && e.jobError === 'fail #3');
    assert.equal(runs, 3);
  });

  test('backoff: fixed, linear and exponential delays between attempts, as measured', async () => {
    const r = env.client();
    const base = { maxAttempts: 4, initialDelayMs: 250, jitter: 0 };
    const [fixed, linear, exponential] = await Promise.all([
      attemptStarts(r, env.name('opt:fixed'), { ...base, backoff: 'fixed' }, 4),
      attemptStarts(r, env.name('opt:linear'), { ...base, backoff: 'linear' }, 4),
      attemptStarts(r, env.name('opt:exponential'), { ...base, backoff: 'exponential' }, 4),
    ]);
    gaps(fixed).forEach((g, i) => assertGap(g, 250, `fixed, before attempt ${i + 2}`));
    gaps(linear).forEach((g, i) => assertGap(g, 250 * (i + 1), `linear, before attempt ${i + 2}`));
    gaps(exponential).forEach((g, i) => assertGap(g, 250 * 2 ** i, `exponential, before attempt ${i + 2}`));
  });

  test('backoff defaults to exponential', async () => {
    const r = env.client();
    const starts = await attemptStarts(r, env.name('opt:default-backoff'), { maxAttempts: 3, initialDelayMs: 200, jitter: 0 }, 3);
    gaps(starts).forEach((g, i) => assertGap(g, 200 * 2 ** i, `before attempt ${i + 2}`));
  });

  test('maxDelayMs caps every retry delay', async () => {
    const r = env.client();
    const starts = await attemptStarts(r, env.name('opt:cap'), { maxAttempts: 4, backoff: 'exponential', initialDelayMs: 200, maxDelayMs: 300, jitter: 0 }, 4);
    const [a, b, c] = gaps(starts);
    assertGap(a!, 200, 'before attempt 2');
    assertGap(b!, 300, 'before attempt 3 (400 capped)');
    assertGap(c!, 300, 'before attempt 4 (800 capped)');
  });

  test('jitter: each delay is scaled by a factor in [1 - jitter, 1]', async () => {
    const r = env.client();
    const starts = await attemptStarts(r, env.name('opt:jitter'), { maxAttempts: 5, backoff: 'fixed', initialDelayMs: 400, jitter: 0.5 }, 5);
    for (const [i, g] of gaps(starts).entries()) {
      assert.ok(g >= 200 - EARLY_MS && g <= 400 + LATE_MS, `before attempt ${i + 2}: ${g.toFixed(0)} ms, expected 200..400 ms`);
    }
  });

  test('timeoutMs: the AbortSignal fires at the deadline with reason timeout, and the job is retried', async () => {
    const r = env.client();
    const seen: { attempt: number; reason: unknown; late: number }[] = [];
    const slow = r.durable(env.name('opt:timeout'), async () => {
      const { signal, attempt, deadline } = Reseolio.currentJob()!;
      const left = deadline.getTime() - Date.now();
      assert.ok(left > 0 && left <= 400 + 50, `the deadline is timeoutMs after the claim: ${left} ms left`);
      if (attempt === 1) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        seen.push({ attempt, reason: signal.reason, late: Date.now() - deadline.getTime() });
        throw signal.reason;
      }
      return `attempt ${attempt} finished in time`;
    }, { timeoutMs: 400, initialDelayMs: 50, jitter: 0 });
    await r.start();
    const h = await slow();
    assert.equal(await h.result(20_000), 'attempt 2 finished in time');
    assert.equal(seen.length, 1);
    const reason = seen[0]!.reason as AbandonedError;
    assert.ok(reason instanceof AbandonedError);
    assert.equal(reason.reason, 'timeout');
    assert.ok(seen[0]!.late >= -EARLY_MS && seen[0]!.late <= LATE_MS, `aborted ${seen[0]!.late} ms after the deadline`);
    const d = await h.details();
    assert.equal(d.attempt, 2);
    assert.match(d.error ?? '', /timed out|timeout/);
  });

  test('timeoutMs: a handler that ignores the signal is abandoned; its late outcome is not recorded', async () => {
    const r = env.client();
    const lateDone = deferred();
    const stubborn = r.durable(env.name('opt:stubborn'), async () => {
      const { attempt, signal } = Reseolio.currentJob()!;
      if (attempt === 1) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        // keep going after the abort, past the daemon's own deadline handling
        await nextEvent(r, 'job:start', 20_000, (job) => (job as { attempt: number }).attempt === 2);
        lateDone.resolve();
        return 'late';
      }
      await lateDone.promise;
      return 'second';
    }, { timeoutMs: 300, initialDelayMs: 20, jitter: 0 });
    await r.start();
    const h = await stubborn();
    assert.equal(await h.result(20_000), 'second');
    assert.equal((await h.details()).result, 'second');
  });

  test('priority: higher runs first among due jobs', async () => {
    const name = env.name('opt:priority');
    const producer = env.client();
    await producer.start();
    const priorities = [0, 5, -3, 10, 5, -32768, 32767];
    const ids: string[] = [];
    for (const priority of priorities) ids.push((await producer.enqueue(name, [priority], { priority })).jobId);
    // a worker that takes one job at a time arrives after all of them are due
    const worker = env.client({ workerConcurrency: 1 });
    const order: string[] = [];
    const all = new Countdown();
    worker.durable(name, async (p: number) => {
      order.push(`${Reseolio.currentJob()!.jobId}:${p}`);
      all.tick();
    });
    await worker.start();
    await all.reached(priorities.length);
    const expected = priorities
      .map((p, i) => ({ p, id: ids[i]! }))
      .sort((a, b) => b.p - a.p || Number(a.id) - Number(b.id))
      .map((x) => `${x.id}:${x.p}`);
    assert.deepEqual(order, expected);
    assert.equal((await producer.getJob(ids[3]!)).priority, 10);
  });

  test('delayMs: the job is pending until the delay has passed, then runs', async () => {
    const r = env.client();
    const started = deferred<number>();
    const later = r.durable(env.name('opt:delay'), async () => void started.resolve(performance.now()));
    await r.start();
    const t0 = performance.now();
    const before = Date.now();
    const h = await later.enqueue([], { delayMs: 700 });
    const d = await h.details();
    assert.equal(d.status, 'pending');
    assert.ok(d.runAt.getTime() >= before + 700 - EARLY_MS, `runAt ${d.runAt.toISOString()}`);
    const at = await withTimeout(started.promise, 10_000, 'the delayed job to start');
    assertGap(at - t0, 700, 'delayMs 700');
    await h.result(10_000);
  });

  test('runAt: the job starts at the given time (Date or Unix ms); a past time is due now', async () => {
    const r = env.client();
    const starts = new Map<string, number>();
    const done = new Countdown();
    const at = r.durable(env.name('opt:runat'), async (tag: string) => {
      starts.set(tag, Date.now());
      done.tick();
    });
    await r.start();
    const when = Date.now() + 700;
    await at('date', { runAt: new Date(when) });
    await at('ms', { runAt: when });
    await at('past', { runAt: new Date(Date.now() - 60_000) });
    await done.reached(3);
    assert.ok(starts.get('past')! < when, 'a past runAt runs at once');
    for (const tag of ['date', 'ms']) {
      const s = starts.get(tag)!;
      assert.ok(s >= when - EARLY_MS && s <= when + LATE_MS, `${tag}: started ${s - when} ms from runAt`);
    }
  });

  test('delayMs and runAt together are refused at the call', async () => {
    const r = env.client();
    const f = r.durable(env.name('opt:both'), async () => 1);
    await r.start();
    await assert.rejects(f.enqueue([], { delayMs: 10, runAt: Date.now() }), (e: Error & { code?: string }) => e.code === 'bad_value' && /runAt and delayMs/.test(e.message));
  });

  test('per-call options override the durable() options; withOptions() and enqueue() say it explicitly', async () => {
    const r = env.client();
    const runs = new Map<string, number>();
    const f = r.durable(env.name('opt:override'), async (tag: string) => {
      runs.set(tag, (runs.get(tag) ?? 0) + 1);
      throw new Error('no');
    }, { maxAttempts: 1, initialDelayMs: 10, jitter: 0 });
    await r.start();
    const hs = [await f('default'), await f('trailing', { maxAttempts: 2 }), await f.withOptions({ maxAttempts: 3 })('with'), await f.enqueue(['explicit'], { maxAttempts: 2 })];
    for (const h of hs) await assert.rejects(h.result(20_000), JobFailedError);
    assert.deepEqual(Object.fromEntries(runs), { default: 1, trailing: 2, with: 3, explicit: 2 });
  });

  test('a trailing object is an argument when the handler declares it', async () => {
    const r = env.client();
    const f = r.durable(env.name('opt:arg'), async (o: { maxAttempts: number }) => o);
    await r.start();
    assert.deepEqual(await (await f({ maxAttempts: 7 })).result(), { maxAttempts: 7 });
  });

  test('a bad option fails at durable() in the name the user wrote; out-of-range per-call options at the call', async () => {
    const r = env.client();
    assert.throws(() => r.durable(env.name('opt:bad'), async () => 1, { maxAttempts: 0 }), /option maxAttempts/);
    assert.throws(() => r.durable(env.name('opt:bad'), async () => 1, { backoff: 'sometimes' as never }), /option backoff/);
    const f = r.durable(env.name('opt:bad-call'), async () => 1);
    await r.start();
    await assert.rejects(f.enqueue([], { timeoutMs: 0 }), /option timeoutMs/);
    await assert.rejects(f.enqueue([], { priority: 40000 }), /option priority/);
  });
});

describe('idempotency, end to end', { timeout: 60_000 }, () => {
  const env = useEnv('idem');

  test('the same key returns the same job, and the handler runs once', async () => {
    const r = env.client();
    let runs = 0;
    const pay = r.durable(env.name('idem:pay'), async (amount: number) => ({ amount, run: ++runs }));
    await r.start();
    const first = await pay(10, { idempotencyKey: 'order-1' });
    const second = await pay(10, { idempotencyKey: 'order-1' });
    assert.equal(first.deduplicated, false);
    assert.equal(second.deduplicated, true);
    assert.equal(second.jobId, first.jobId);
    assert.deepEqual(await first.result(), { amount: 10, run: 1 });
    // after it finished too: the finished job, not a new run
    const third = await pay(99, { idempotencyKey: 'order-1' });
    assert.equal(third.jobId, first.jobId);
    assert.deepEqual(await third.result(), { amount: 10, run: 1 });
    assert.equal(runs, 1);
  });

  test('concurrent calls with one key make one job', async () => {
    const r = env.client();
    let runs = 0;
    const pay = r.durable(env.name('idem:race'), async () => ++runs);
    await r.start();
    const other = env.client();
    await other.start();
    const hs = await Promise.all([
      ...Array.from({ length: 10 }, () => pay({ idempotencyKey: 'k' })),
      ...Array.from({ length: 10 }, () => other.enqueue(pay.durableName, [], { idempotencyKey: 'k' })),
    ]);
    assert.equal(new Set(hs.map((h) => h.jobId)).size, 1);
    assert.equal(hs.filter((h) => !h.deduplicated).length, 1);
    assert.equal(await hs[0]!.result(), 1);
    assert.equal(runs, 1);
  });

  test('keys are per function; other keys are other jobs', async () => {
    const r = env.client();
    const a = r.durable(env.name('idem:a'), async () => 'a');
    const b = r.durable(env.name('idem:b'), async () => 'b');
    await r.start();
    const [a1, b1, a2] = [await a({ idempotencyKey: 'same' }), await b({ idempotencyKey: 'same' }), await a({ idempotencyKey: 'other' })];
    assert.equal(new Set([a1.jobId, b1.jobId, a2.jobId]).size, 3);
    assert.deepEqual([await a1.result(), await b1.result(), await a2.result()], ['a', 'b', 'a']);
  });
});
