/*
 * END TO END, real reseoliod + PostgreSQL: durable steps (issue #8). A durable call made while
 * a handler runs is a step of that job (ENQUEUE parent + step, its position among the attempt's
 * calls); a retried parent finds its steps again, so a step that succeeded never runs twice and
 * a dead one runs again. A handler awaiting a result lends its worker slot to steps (AWAIT
 * waiter), so sagas never starve their own steps, whatever workerConcurrency is. Executions
 * are counted in this process (or, for the SIGKILL test, in a file the worker processes append
 * to), never inferred from timing.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';

import { JobFailedError, Reseolio, type JobHandle } from '../src/index';
import { useEnv } from './support/e2e';
import { deferred, withTimeout } from './support/wait';

/** Retry options that keep the tests quick: short fixed delays. */
const FAST = { initialDelayMs: 50, maxDelayMs: 200, backoff: 'fixed', jitter: 0 } as const;

describe('durable steps, end to end', { timeout: 300_000 }, () => {
  const env = useEnv('steps');

  test('a saga whose third step fails twice, then succeeds, ran its first two steps exactly once', async () => {
    const r = env.client({ workerConcurrency: 4 });
    const n = env.name('saga');
    const runs = { order: 0, charge: 0, reserve: 0, ship: 0 };
    const charge = r.durable(`${n}:charge`, async (id: string) => (runs.charge++, `pay-${id}`), { maxAttempts: 1 });
    const reserve = r.durable(`${n}:reserve`, async (id: string) => (runs.reserve++, `res-${id}`), { maxAttempts: 1 });
    const ship = r.durable(`${n}:ship`, async (id: string) => {
      if (++runs.ship <= 2) throw new Error(`carrier down (${runs.ship})`);
      return `track-${id}`;
    }, { maxAttempts: 1 });
    const stepHandles: JobHandle[][] = [];
    const order = r.durable(`${n}:order`, async (id: string) => {
      runs.order++;
      const mine: JobHandle[] = [];
      stepHandles.push(mine);
      const c = await charge(id);
      mine.push(c);
      const payment = await c.result();
      const v = await reserve(id);
      mine.push(v);
      const reservation = await v.result();
      const s = await ship(id);
      mine.push(s);
      const tracking = await s.result(); // rejects while ship is dead: this attempt fails
      return { payment, reservation, tracking };
    }, { maxAttempts: 5, ...FAST });
    await r.start();

    const h = await order('o-1');
    assert.deepEqual(await h.result(60_000), { payment: 'pay-o-1', reservation: 'res-o-1', tracking: 'track-o-1' });
    assert.deepEqual(runs, { order: 3, charge: 1, reserve: 1, ship: 3 });

    // every attempt of the parent found the same three jobs; only the first made them
    assert.equal(stepHandles.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(stepHandles.map((a) => a[i]!.jobId), Array(3).fill(stepHandles[0]![i]!.jobId), `step ${i} is one job`);
      assert.deepEqual(stepHandles.map((a) => a[i]!.deduplicated), [false, true, true]);
    }
    const d = await h.details();
    assert.equal(d.status, 'success');
    assert.equal(d.attempt, 3);
    assert.equal(d.parentId, undefined);
    assert.equal(d.step, undefined);

    const steps = await h.steps();
    assert.deepEqual(
      steps.map((s) => [s.name, s.step, s.parentId, s.status]),
      [
        [`${n}:charge`, 0, h.jobId, 'success'],
        [`${n}:reserve`, 1, h.jobId, 'success'],
        [`${n}:ship`, 2, h.jobId, 'success'],
      ],
    );
    assert.equal(steps[0]!.attempt, 1);
    assert.equal(steps[1]!.attempt, 1);
    assert.equal(steps[0]!.idempotencyKey, `step:${h.jobId}:0`);
    assert.deepEqual(steps[1], await r.getJob(steps[1]!.jobId));
    const listed = await r.listJobs({ parent: h.jobId });
    assert.deepEqual(listed.jobs.map((j) => j.step), [2, 1, 0], 'LIST parent: newest first');
  });

  test('50 concurrent sagas with workerConcurrency 2 all finish, each step once', async () => {
    const r = env.client({ workerConcurrency: 2 });
    const n = env.name('many');
    const count = { charge: new Map<string, number>(), reserve: new Map<string, number>(), ship: new Map<string, number>() };
    const step = (kind: keyof typeof count) =>
      r.durable(`${n}:${kind}`, async (id: string) => {
        count[kind].set(id, (count[kind].get(id) ?? 0) + 1);
        await new Promise((res) => setImmediate(res));
        return `${kind}-${id}`;
      });
    const charge = step('charge');
    const reserve = step('reserve');
    const ship = step('ship');
    let parents = 0;
    let mostParents = 0;
    const order = r.durable(`${n}:order`, async (id: string) => {
      mostParents = Math.max(mostParents, ++parents);
      try {
        const a = await (await charge(id)).result();
        const b = await (await reserve(id)).result();
        const c = await (await ship(id)).result();
        return [a, b, c];
      } finally {
        parents--;
      }
    });
    await r.start();

    const ids = Array.from({ length: 50 }, (_, i) => `o-${i}`);
    const handles = await Promise.all(ids.map((id) => order(id)));
    const results = await withTimeout(Promise.all(handles.map((h) => h.result())), 180_000, 'the 50 sagas');
    assert.deepEqual(results, ids.map((id) => [`charge-${id}`, `reserve-${id}`, `ship-${id}`]));
    for (const kind of ['charge', 'reserve', 'ship'] as const) {
      assert.equal(count[kind].size, 50, kind);
      assert.ok([...count[kind].values()].every((c) => c === 1), `${kind} ran once per saga`);
    }
    // a parent takes a real slot: only the steps may use the slot a waiting parent lends
    assert.ok(mostParents <= 2, `at most 2 parents at once, saw ${mostParents}`);
  });

  test('a worker SIGKILLed in the middle of a saga is replaced; every step’s effect happens once', async () => {
    const effects = join(env.dir, 'effects.txt');
    writeFileSync(effects, '');
    const a = startSagaWorker(env.socket, env.storage, effects, 'hang');
    let b: SagaWorker | undefined;
    const r = env.client();
    try {
      await a.line(/^ready$/);
      await r.start();
      const h = await r.enqueue<{ payment: string; reservation: string; tracking: string; finishedBy: number }>('kill:order', ['o-k']);
      await a.line(/^reserving o-k$/);
      assert.deepEqual(effectLines(effects), [`charge o-k ${a.pid}`]);
      a.child.kill('SIGKILL');
      await withTimeout(a.exit, 20_000, 'the first worker to die');

      b = startSagaWorker(env.socket, env.storage, effects, 'run');
      await b.line(/^ready$/);
      const result = await h.result(120_000);
      assert.deepEqual(result, { payment: 'pay-o-k', reservation: 'res-o-k', tracking: 'track-o-k', finishedBy: b.pid });
      assert.deepEqual(effectLines(effects), [`charge o-k ${a.pid}`, `reserve o-k ${b.pid}`, `ship o-k ${b.pid}`]);

      const steps = await h.steps();
      assert.deepEqual(steps.map((s) => [s.name, s.step, s.status]), [
        ['kill:charge', 0, 'success'],
        ['kill:reserve', 1, 'success'],
        ['kill:ship', 2, 'success'],
      ]);
      assert.equal(steps[0]!.attempt, 1, 'the charge ran once');
      assert.ok((await r.getJob(h.jobId)).attempt >= 2, 'the parent ran again');
      b.child.stdin!.end();
      assert.equal(await withTimeout(b.exit, 30_000, 'the second worker to stop'), 0, b.stderr());
    } finally {
      for (const w of [a, b]) if (w && w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    }
  });

  test('a fan-out of 200 steps inside one parent finishes; the parent’s retry re-runs none of them', async () => {
    const r = env.client({ workerConcurrency: 2 });
    const n = env.name('fan');
    const runs = new Array<number>(200).fill(0);
    const item = r.durable(`${n}:item`, async (i: number) => (runs[i]!++, i * 2), { maxAttempts: 1 });
    let attempts = 0;
    const dedup: number[] = [];
    const fan = r.durable(`${n}:fan`, async (count: number) => {
      attempts++;
      const handles = await Promise.all(Array.from({ length: count }, (_, i) => item(i)));
      dedup.push(handles.filter((h) => h.deduplicated).length);
      const values = await Promise.all(handles.map((h) => h.result()));
      if (attempts === 1) throw new Error('failing once, after every step succeeded');
      return values.reduce((s, v) => s + v, 0);
    }, { maxAttempts: 2, ...FAST });
    await r.start();

    const h = await fan(200);
    assert.equal(await h.result(180_000), 2 * ((199 * 200) / 2));
    assert.equal(attempts, 2);
    assert.deepEqual(dedup, [0, 200], 'the retry found all 200 steps');
    assert.ok(runs.every((c) => c === 1), `every step ran once: ${JSON.stringify(runs.filter((c) => c !== 1))}`);
    const steps = await h.steps();
    assert.deepEqual(steps.map((s) => s.step), Array.from({ length: 200 }, (_, i) => i));
    assert.deepEqual(steps.map((s) => s.args[0]), Array.from({ length: 200 }, (_, i) => i), 'position i is the call of item(i)');
    assert.ok(steps.every((s) => s.status === 'success' && s.attempt === 1 && s.parentId === h.jobId));
  });

  test('cancelling a parent cancels its pending steps, also those of its running steps', async () => {
    const r = env.client();
    const n = env.name('cancel');
    const unserved = `${n}:nobody-serves-this`;
    const ids: { s1?: string; child?: string; t?: string } = {};
    const childWaits = deferred();
    const child = r.durable(`${n}:child`, async () => {
      const t = await r.enqueue(unserved, ['t']);
      ids.t = t.jobId;
      childWaits.resolve();
      return t.result();
    }, { maxAttempts: 1 });
    const parent = r.durable(`${n}:parent`, async () => {
      const s1 = await r.enqueue(unserved, ['s1']);
      ids.s1 = s1.jobId;
      const c = await child();
      ids.child = c.jobId;
      return c.result();
    }, { maxAttempts: 1 });
    await r.start();

    const h = await parent();
    await withTimeout(childWaits.promise, 20_000, 'the child step to enqueue its own step');
    assert.equal((await r.getJob(ids.s1!)).status, 'pending');
    const d = await h.cancel();
    assert.equal(d.status, 'cancelled');
    const s1 = await r.getJob(ids.s1!);
    assert.deepEqual([s1.status, s1.parentId, s1.step], ['cancelled', h.jobId, 0]);
    const t = await r.getJob(ids.t!);
    assert.equal(t.status, 'cancelled');
    assert.equal(t.step, 0);
    const c = await r.getJob(t.parentId!);
    assert.deepEqual([c.name, c.parentId, c.step], [`${n}:child`, h.jobId, 1]);
    // the running child was left to finish: its step was cancelled, so it fails
    await assert.rejects(r.handle(c.jobId).result(30_000), (e: unknown) => e instanceof JobFailedError && e.status === 'dead');
  });

  test('with workerConcurrency 1, a parent awaiting its steps lends them its slot', async () => {
    const r = env.client({ workerConcurrency: 1 });
    const n = env.name('one');
    const step = r.durable(`${n}:step`, async (i: number) => i + 1);
    const parent = r.durable(`${n}:parent`, async () => {
      let v = 0;
      for (let i = 0; i < 5; i++) v = await (await step(v)).result();
      const all = await Promise.all([step(10), step(20)]);
      return [v, ...(await Promise.all(all.map((s) => s.result())))];
    }, { maxAttempts: 1 });
    await r.start();
    assert.deepEqual(await (await parent()).result(60_000), [5, 11, 21]);
  });

  test('detached calls are jobs of their own; a retried parent enqueues them again', async () => {
    const r = env.client();
    const n = env.name('detached');
    let runs = 0;
    const note = r.durable(`${n}:note`, async (s: string) => (runs++, s));
    let attempt = 0;
    const made: JobHandle[] = [];
    const parent = r.durable(`${n}:parent`, async () => {
      attempt++;
      const a = await note('detached', { detached: true }); // not a step, takes no position
      const b = await note.enqueue(['step']); // position 0
      const c = await r.enqueue(`${n}:note`, ['by name, detached'], { detached: true });
      const d = await r.enqueue(`${n}:note`, ['by name, a step']); // position 1
      made.push(a, b, c, d);
      await Promise.all([a, b, c, d].map((x) => x.result()));
      if (attempt === 1) throw new Error('once more');
      return 'done';
    }, { maxAttempts: 2, ...FAST });
    await r.start();

    const h = await parent();
    assert.equal(await h.result(30_000), 'done');
    assert.equal(runs, 6, 'the two detached calls ran twice, the two steps once');
    const [a1, b1, c1, d1, a2, b2, c2, d2] = made;
    assert.notEqual(a1!.jobId, a2!.jobId);
    assert.notEqual(c1!.jobId, c2!.jobId);
    assert.deepEqual([b2!.jobId, d2!.jobId], [b1!.jobId, d1!.jobId]);
    const detached = await r.getJob(a1!.jobId);
    assert.deepEqual([detached.parentId, detached.step], [undefined, undefined]);
    assert.deepEqual((await h.steps()).map((s) => [s.args[0], s.step]), [['step', 0], ['by name, a step', 1]]);
    // outside a handler nothing is a step
    const top = await note('top');
    assert.equal((await top.details()).parentId, undefined);
    await assert.rejects(note.enqueue(['x'], { detached: 'yes' as unknown as boolean }), /option detached: must be a boolean/);
  });

  test('a retried parent that calls its steps in another order: another function at a position is a new step', async () => {
    const r = env.client();
    const n = env.name('order');
    const runs: string[] = [];
    const a = r.durable(`${n}:a`, async () => (runs.push('a'), 'a'));
    const b = r.durable(`${n}:b`, async () => (runs.push('b'), 'b'));
    let attempt = 0;
    const parent = r.durable(`${n}:parent`, async () => {
      attempt++;
      const first = attempt === 1 ? [a, b] : [b, a];
      const out = [];
      for (const fn of first) out.push(await (await fn()).result());
      if (attempt === 1) throw new Error('once more');
      return out;
    }, { maxAttempts: 2, ...FAST });
    await r.start();

    const h = await parent();
    assert.deepEqual(await h.result(30_000), ['b', 'a']);
    assert.deepEqual(runs, ['a', 'b', 'b', 'a'], 'both calls of the retry are new steps');
    assert.deepEqual(
      (await h.steps()).map((s) => [s.step, s.name, s.status]),
      [
        [0, `${n}:a`, 'success'],
        [0, `${n}:b`, 'success'],
        [1, `${n}:b`, 'success'],
        [1, `${n}:a`, 'success'],
      ],
    );
  });

  test('an idempotency key the caller gives keeps the step’s link; the prefix step: is reserved', async () => {
    const r = env.client();
    const n = env.name('keyed');
    const fn = r.durable(`${n}:fn`, async (x: number) => x);
    const parent = r.durable(`${n}:parent`, async () => {
      const s = await fn(1, { idempotencyKey: 'my-key' });
      return [s.jobId, await s.result()];
    }, { maxAttempts: 1 });
    await r.start();
    const h = await parent();
    const [id] = (await h.result(30_000)) as [string, number];
    const d = await r.getJob(id);
    assert.deepEqual([d.idempotencyKey, d.parentId, d.step], ['my-key', h.jobId, 0]);
    await assert.rejects(fn(1, { idempotencyKey: 'step:1:0' }), /option idempotencyKey: the prefix "step:" is reserved/);
    assert.equal(Reseolio.currentJob(), undefined);
  });
});

interface SagaWorker {
  child: ChildProcess;
  pid: number;
  exit: Promise<number | null>;
  line(re: RegExp): Promise<string>;
  stderr(): string;
}

/** Start test/fixtures/saga-worker.js; line(re) resolves with its first stdout line matching re. */
function startSagaWorker(socket: string, storage: string, effects: string, mode: 'hang' | 'run'): SagaWorker {
  const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'saga-worker.js'), socket, storage, effects, mode], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waits: (() => void)[] = [];
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waits.splice(0)) w();
  });
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const w of waits.splice(0)) w();
      resolve(code);
    }),
  );
  const line = (re: RegExp) =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const l = lines.find((x) => re.test(x));
          if (l !== undefined) resolve(l);
          else if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`saga worker exited (${child.exitCode ?? child.signalCode}): ${err}`));
          else waits.push(check);
        };
        check();
      }),
      60_000,
      () => `a line ${re} from the saga worker (stderr: ${err})`,
    );
  return { child, pid: child.pid!, exit, line, stderr: () => err };
}

/** The effects the saga workers recorded, one `STEP ORDER PID` per line. */
function effectLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}
