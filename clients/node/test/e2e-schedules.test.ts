/*
 * END TO END, real reseoliod + PostgreSQL: cron schedules from the Node client. The daemon runs
 * with RESEOLIO_DEBUG_SCHEDULE_CLOCK_SCALE=60 (docs/operations.md, "Schedules"), so an
 * every-minute schedule fires about every real second. A schedule fires and its function runs
 * with the schedule's arguments; creating is idempotent across calls and app restarts (and
 * keeps a pause); pause, resume, delete; the daemon's errors for a bad zone or cron.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Reseolio, ReseolioError, ScheduleHandle } from '../src/index';
import { useEnv } from './support/e2e';

// Inherited by the daemon useEnv() starts (DaemonProcess passes process.env on).
process.env.RESEOLIO_DEBUG_SCHEDULE_CLOCK_SCALE = '60';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('schedules, end to end', { timeout: 120_000 }, () => {
  const env = useEnv('schedules');

  test('a schedule fires and the durable function runs with its arguments', async () => {
    const r = env.client();
    const runs: unknown[][] = [];
    const fname = env.name('sched:fire');
    const report = r.durable(fname, async (team: string, n: number) => {
      runs.push([team, n, Reseolio.currentJob()?.name]);
      return n;
    });
    await r.start();
    const h = await report.schedule(Reseolio.everyMinute(), 'ops', 7);
    assert.ok(h instanceof ScheduleHandle);
    assert.equal(h.name, `${fname}|* * * * *|UTC`);
    await until(() => runs.length >= 2, 15_000, 'two runs');
    assert.deepEqual(runs[0], ['ops', 7, fname]);
    assert.deepEqual(runs[1], ['ops', 7, fname]);
    const d = await h.details();
    assert.equal(d.functionName, fname);
    assert.equal(d.cron, '* * * * *');
    assert.equal(d.zone, 'UTC');
    assert.deepEqual(d.args, ['ops', 7]);
    assert.equal(d.paused, false);
    assert.ok(d.lastRunAt instanceof Date);
    assert.ok(d.nextRunAt instanceof Date && d.nextRunAt > d.lastRunAt);
    // every run is a job under the function, keyed by the schedule and the due time
    const { jobs } = await r.listJobs({ name: fname });
    assert.ok(jobs.length >= 2);
    for (const j of jobs) assert.match(j.idempotencyKey ?? '', new RegExp(`^schedule:${fname.replace(/[|*]/g, '\\$&')}\\|\\* \\* \\* \\* \\*\\|UTC:\\d+$`));
    await h.delete();
  });

  test('options form: name, zone, args and run options; durable() options apply', async () => {
    const r = env.client();
    const fname = env.name('sched:opts');
    const fn = r.durable(fname, async (x: number) => x, { maxAttempts: 5, priority: 2 });
    await r.start();
    const h = await fn.schedule({ cron: Reseolio.weekly('mon', '09:30'), args: [42], zone: 'Europe/Berlin', name: `${fname}:weekly`, priority: 9 });
    assert.equal(h.name, `${fname}:weekly`);
    const d = await h.details();
    assert.equal(d.cron, '30 9 * * 1');
    assert.equal(d.zone, 'Europe/Berlin');
    assert.deepEqual(d.args, [42]);
    assert.equal(d.maxAttempts, 5);
    assert.equal(d.priority, 9);
    // positional form with trailing schedule options
    const h2 = await fn.schedule('@daily', 1, { zone: 'Asia/Tokyo', timeoutMs: 5000 });
    assert.equal(h2.name, `${fname}|@daily|Asia/Tokyo`);
    const d2 = await r.getSchedule(h2.name);
    assert.equal(d2.zone, 'Asia/Tokyo');
    assert.deepEqual(d2.args, [1]);
    assert.equal(d2.timeoutMs, 5000);
    await h.delete();
    await h2.delete();
  });

  test('idempotent create: two schedule() calls and an app restart make one schedule; a pause is kept', async () => {
    const fname = env.name('sched:idem');
    const app = async () => {
      const r = env.client();
      const fn = r.durable(fname, async (_n: number) => undefined);
      await r.start();
      return { r, fn };
    };
    const first = await app();
    const a = await first.fn.schedule(Reseolio.daily('09:00'), 1);
    const b = await first.fn.schedule(Reseolio.daily('09:00'), 2);
    assert.equal(a.name, b.name);
    const mine = async (r: Reseolio) => (await r.listSchedules()).schedules.filter((s) => s.functionName === fname);
    let list = await mine(first.r);
    assert.equal(list.length, 1);
    assert.deepEqual(list[0]!.args, [2], 'the second call updated the arguments');
    const created = list[0]!.createdAt.getTime();
    await a.pause();
    await first.r.stop();

    // the app starts again and schedules the same thing: the same schedule, still paused
    const second = await app();
    const c = await second.fn.schedule(Reseolio.daily('09:00'), 2);
    assert.equal(c.name, a.name);
    list = await mine(second.r);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.createdAt.getTime(), created);
    assert.equal(list[0]!.paused, true);
    assert.equal(list[0]!.nextRunAt, undefined);
    // an explicit paused: false resumes it
    await second.fn.schedule({ cron: Reseolio.daily('09:00'), args: [2], paused: false });
    assert.equal((await c.details()).paused, false);
    await c.delete();
  });

  test('pause stops the runs, resume starts them again, delete removes the schedule', async () => {
    const r = env.client();
    let runs = 0;
    const fname = env.name('sched:pause');
    const fn = r.durable(fname, async () => void runs++);
    await r.start();
    const h = await fn.schedule('* * * * *');
    await until(() => runs >= 1, 15_000, 'the first run');

    const p = await h.pause();
    assert.equal(p.paused, true);
    assert.equal(p.nextRunAt, undefined);
    await sleep(500); // a run made just before the pause may still be running
    const atPause = runs;
    await sleep(2500);
    assert.equal(runs, atPause, 'no runs while paused');

    const q = await h.resume();
    assert.equal(q.paused, false);
    assert.ok(q.nextRunAt instanceof Date);
    await until(() => runs > atPause, 15_000, 'a run after resume');

    await h.delete();
    await assert.rejects(h.details(), (e: unknown) => e instanceof ReseolioError && e.code === 'not_found');
    await assert.rejects(r.getSchedule(h.name), (e: unknown) => e instanceof ReseolioError && e.code === 'not_found');
    await assert.rejects(h.delete(), (e: unknown) => e instanceof ReseolioError && e.code === 'not_found');
    assert.equal((await r.listSchedules()).schedules.some((s) => s.name === h.name), false);
    await sleep(500);
    const atDelete = runs;
    await sleep(2500);
    assert.equal(runs, atDelete, 'no runs after delete');
    // the jobs it made stay
    assert.ok((await r.listJobs({ name: fname })).jobs.length >= 2);
  });

  test('a bad zone or cron is the daemon’s bad_value, and nothing is stored', async () => {
    const r = env.client();
    const fname = env.name('sched:bad');
    const fn = r.durable(fname, async () => undefined);
    await r.start();
    await assert.rejects(fn.schedule({ cron: '* * * * *', zone: 'Mars/Olympus_Mons' }), (e: unknown) => {
      assert.ok(e instanceof ReseolioError, String(e));
      assert.equal(e.code, 'bad_value');
      assert.match(e.message, /time zone "Mars\/Olympus_Mons"/);
      return true;
    });
    await assert.rejects(fn.schedule('61 * * * *'), (e: unknown) => e instanceof ReseolioError && e.code === 'bad_value' && e.message.length > 0);
    await assert.rejects(fn.schedule('0 0 30 2 *'), (e: unknown) => e instanceof ReseolioError && e.code === 'bad_value');
    assert.equal((await r.listSchedules()).schedules.some((s) => s.functionName === fname), false);
    await assert.rejects(r.getSchedule('no such schedule'), (e: unknown) => e instanceof ReseolioError && e.code === 'not_found');
    assert.throws(() => r.scheduleHandle(''), RangeError);
  });

  test('listSchedules pages by name', async () => {
    const r = env.client();
    const fname = env.name('sched:list');
    const fn = r.durable(fname, async () => undefined);
    await r.start();
    const names = ['a', 'b', 'c'].map((x) => `${fname}:${x}`);
    for (const name of names) await fn.schedule({ cron: '@hourly', name, paused: true });
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await r.listSchedules({ limit: 2, ...(after !== undefined ? { after } : {}) });
      seen.push(...page.schedules.map((s) => s.name));
      if (page.next === undefined) break;
      after = page.next;
    }
    assert.deepEqual(seen.filter((n) => names.includes(n)), names);
    for (const n of names) await r.scheduleHandle(n).delete();
  });
});
