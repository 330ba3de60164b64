/*
 * CLIENT-LOGIC TESTS of steps against the test double of the daemon (test/fake-daemon.ts): what
 * the client puts on the wire. A durable call inside a handler is ENQUEUE with parent = the
 * running job and step = its position (0, 1, ... per attempt, in call order, also for calls
 * started together); detached calls, calls outside handlers and calls through another
 * instance carry neither; result() inside a handler is AWAIT with waiter = the running job and
 * waiter_attempt = its attempt. What the daemon does with them is e2e-steps.test.ts.
 */

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { Reseolio } from '../src/index';
import { decodeArgs } from '../src/payload';
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

/** Each ENQUEUE sent so far as [name, first argument, parent, step]. */
function enqueues(): [string, unknown, number | undefined, number | undefined][] {
  return fake.of('ENQUEUE').map((f) => [
    f.name,
    decodeArgs(f.args)[0],
    f.parent === undefined ? undefined : Number(f.parent),
    f.step === undefined ? undefined : Number(f.step),
  ]);
}

describe('steps on the wire (client logic, fake daemon)', () => {
  test('calls in a handler carry parent and position in call order; detached, outside and other-instance calls do not', async () => {
    const r = client();
    const other = client();
    const child = r.durable('child', async (x: number) => x * 10);
    let parentId = 0;
    const parent = r.durable('parent', async () => {
      parentId = Number(Reseolio.currentJob()!.jobId);
      const started = [child(1), child(2), child(3, { detached: true }), r.enqueue('child', [4])];
      await other.enqueue('child', [5]); // another instance: never a step of r's job
      const late = await child.withOptions({ priority: 1 })(6);
      const values = await Promise.all([...(await Promise.all(started)), late].map((h) => h.result()));
      return values;
    });
    await r.start();
    await other.start();
    const h = await parent();
    assert.deepEqual(await h.result(10_000), [10, 20, 30, 40, 60]);
    assert.deepEqual(enqueues(), [
      ['parent', undefined, undefined, undefined],
      ['child', 1, parentId, 0],
      ['child', 2, parentId, 1],
      ['child', 3, undefined, undefined],
      ['child', 4, parentId, 2],
      ['child', 5, undefined, undefined],
      ['child', 6, parentId, 3],
    ]);
    const awaits = fake.of('AWAIT').map((f) => [Number(f.job), f.waiter === undefined ? undefined : Number(f.waiter), f.waiter_attempt]);
    const top = awaits.filter(([job]) => job === parentId);
    assert.deepEqual(top, [[parentId, undefined, undefined]], 'the caller outside any handler is no waiter');
    const inner = awaits.filter(([job]) => job !== parentId);
    assert.equal(inner.length, 5);
    assert.ok(inner.every(([, w, a]) => w === parentId && a === 1), JSON.stringify(inner));
  });

  test('positions start again at 0 in every attempt; waiter_attempt is the attempt that waits', async () => {
    const r = client();
    const step = r.durable('step', async (x: number) => x);
    let attempt = 0;
    const parent = r.durable('parent', async () => {
      attempt = Reseolio.currentJob()!.attempt;
      await (await step(attempt)).result();
      await (await step(attempt + 10)).result();
      if (attempt === 1) throw new Error('again');
      return attempt;
    }, { maxAttempts: 2 });
    await r.start();
    const h = await parent();
    assert.equal(await h.result(10_000), 2);
    const id = Number(h.jobId);
    assert.deepEqual(enqueues().slice(1), [
      ['step', 1, id, 0],
      ['step', 11, id, 1],
      ['step', 2, id, 0],
      ['step', 12, id, 1],
    ]);
    const waits = fake.of('AWAIT').filter((f) => f.waiter !== undefined).map((f) => [Number(f.waiter), f.waiter_attempt]);
    assert.deepEqual(waits, [[id, 1], [id, 1], [id, 2], [id, 2]]);
  });

  test('a handle of any job awaited in a handler names the waiter; one awaited after the attempt was abandoned does not', async () => {
    const r = client();
    const target = r.durable('target', async () => 'done');
    await r.start();
    const t = await target();
    assert.equal(await t.result(10_000), 'done');
    const parent = r.durable('waits', async () => {
      const ctx = Reseolio.currentJob()!;
      await r.handle(t.jobId).result(); // a job it did not make
      const signalled = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      fake.abandon(Number(ctx.jobId), 'timeout');
      await signalled;
      await r.handle(t.jobId).result(); // no longer this process's attempt: no waiter
      return 'x';
    }, { maxAttempts: 1 });
    const p = await parent();
    const pid = Number(p.jobId);
    await waitFor(() => fake.of('AWAIT').filter((f) => Number(f.job) === Number(t.jobId)).length >= 3, 10_000, 'the third AWAIT');
    const about = fake.of('AWAIT').filter((f) => Number(f.job) === Number(t.jobId)).map((f) => (f.waiter === undefined ? undefined : Number(f.waiter)));
    assert.deepEqual(about, [undefined, pid, undefined]);
  });
});
