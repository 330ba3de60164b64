/*
 * Unit tests of the schedule API that need no daemon: the cron helpers, the default schedule
 * name, the two forms of fn.schedule() and how options become SCHEDULE_PUT fields.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Reseolio } from '../src/index';
import { defaultScheduleName, schedulePutFields, splitScheduleArgs } from '../src/schedule';

describe('cron helpers', () => {
  test('everyMinute / hourly / daily / weekly produce the cron strings', () => {
    assert.equal(Reseolio.everyMinute(), '* * * * *');
    assert.equal(Reseolio.hourly(), '0 * * * *');
    assert.equal(Reseolio.hourly(15), '15 * * * *');
    assert.equal(Reseolio.hourly(59), '59 * * * *');
    assert.equal(Reseolio.daily(), '0 0 * * *');
    assert.equal(Reseolio.daily('09:00'), '0 9 * * *');
    assert.equal(Reseolio.daily('9:05'), '5 9 * * *');
    assert.equal(Reseolio.daily('23:59'), '59 23 * * *');
    assert.equal(Reseolio.weekly('mon', '09:00'), '0 9 * * 1');
    assert.equal(Reseolio.weekly('Sunday', '18:30'), '30 18 * * 0');
    assert.equal(Reseolio.weekly('SAT'), '0 0 * * 6');
    assert.equal(Reseolio.weekly(7, '01:02'), '2 1 * * 0');
    assert.equal(Reseolio.weekly(3, '12:00'), '0 12 * * 3');
  });

  test('bad input is a RangeError that says what is expected', () => {
    assert.throws(() => Reseolio.hourly(60), { name: 'RangeError', message: /hourly\(\): the minute must be an integer in 0\.\.59, got 60/ });
    assert.throws(() => Reseolio.hourly(-1), RangeError);
    assert.throws(() => Reseolio.hourly(1.5), RangeError);
    assert.throws(() => Reseolio.hourly('5' as unknown as number), RangeError);
    assert.throws(() => Reseolio.daily('24:00'), { name: 'RangeError', message: /daily\(\): the time must be "HH:MM".*got "24:00"/ });
    assert.throws(() => Reseolio.daily('9am'), RangeError);
    assert.throws(() => Reseolio.daily('09:60'), RangeError);
    assert.throws(() => Reseolio.daily(900 as unknown as string), RangeError);
    assert.throws(() => Reseolio.weekly('mo', '09:00'), { name: 'RangeError', message: /weekly\(\): the day must be one of sun, mon/ });
    assert.throws(() => Reseolio.weekly(8), RangeError);
    assert.throws(() => Reseolio.weekly('mon', '9'), /weekly\(\): the time must be "HH:MM"/);
  });
});

describe('default schedule name', () => {
  test('function, cron (blanks normalised) and zone; stable', () => {
    assert.equal(defaultScheduleName('report', '0 9 * * *'), 'report|0 9 * * *|UTC');
    assert.equal(defaultScheduleName('report', '  0  9 * *\t* ', 'Europe/Berlin'), 'report|0 9 * * *|Europe/Berlin');
    assert.equal(defaultScheduleName('a', '* * * * *'), defaultScheduleName('a', '* * * * *', 'UTC'));
  });
  test('too long: a prefix and a digest, at most 200 bytes, still deterministic', () => {
    const fn = 'f'.repeat(190);
    const a = defaultScheduleName(fn, '* * * * *');
    const b = defaultScheduleName(fn, '*/5 * * * *');
    assert.ok(Buffer.byteLength(a) <= 200);
    assert.match(a, /^f+#[0-9a-f]{32}$/);
    assert.notEqual(a, b);
    assert.equal(a, defaultScheduleName(fn, '* * * * *'));
    const multi = defaultScheduleName('é'.repeat(150), '* * * * *');
    assert.ok(Buffer.byteLength(multi) <= 200);
  });
});

describe('fn.schedule() arguments', () => {
  test('positional: cron then the arguments', () => {
    assert.deepEqual(splitScheduleArgs(2, ['* * * * *', 1, 2]), { cron: '* * * * *', args: [1, 2], options: {} });
    assert.deepEqual(splitScheduleArgs(0, ['@daily']), { cron: '@daily', args: [], options: {} });
  });
  test('positional: a trailing object of schedule options, by the per-call options rule', () => {
    assert.deepEqual(splitScheduleArgs(1, ['* * * * *', 'x', { zone: 'Europe/Berlin', maxAttempts: 2 }]), {
      cron: '* * * * *',
      args: ['x'],
      options: { zone: 'Europe/Berlin', maxAttempts: 2 },
    });
    // the handler declares it: an argument
    assert.deepEqual(splitScheduleArgs(2, ['* * * * *', 'x', { zone: 'UTC' }]).args, ['x', { zone: 'UTC' }]);
    // a key that is no schedule option: an argument
    assert.deepEqual(splitScheduleArgs(0, ['* * * * *', { zone: 'UTC', other: 1 }]).args, [{ zone: 'UTC', other: 1 }]);
    // per-call-only options do not apply to schedules
    assert.deepEqual(splitScheduleArgs(0, ['* * * * *', { idempotencyKey: 'k' }]).args, [{ idempotencyKey: 'k' }]);
  });
  test('options form', () => {
    assert.deepEqual(splitScheduleArgs(1, [{ cron: '0 9 * * *', args: [5], zone: 'Asia/Tokyo', name: 'n', paused: true }]), {
      cron: '0 9 * * *',
      args: [5],
      options: { zone: 'Asia/Tokyo', name: 'n', paused: true },
    });
    assert.deepEqual(splitScheduleArgs(1, [{ cron: '0 9 * * *' }]).args, []);
    assert.throws(() => splitScheduleArgs(0, [{ cron: '* * * * *', zome: 'UTC' }]), /unknown option "zome"/);
    assert.throws(() => splitScheduleArgs(0, [{ cron: 5 }]), /cron must be a string/);
    assert.throws(() => splitScheduleArgs(0, [{ cron: '* * * * *', args: 5 }]), /args must be an array/);
    assert.throws(() => splitScheduleArgs(0, []), /needs a cron string/);
    assert.throws(() => splitScheduleArgs(0, [5]), /needs a cron string/);
  });
  test('SCHEDULE_PUT fields: durable() options overridden by the schedule’s', () => {
    const args = new Uint8Array([0x90]);
    assert.deepEqual(schedulePutFields('s', 'f', '* * * * *', args, { maxAttempts: 5, priority: 1 }, { priority: 7, zone: 'UTC', paused: false }), {
      name: 's',
      function: 'f',
      cron: '* * * * *',
      args,
      zone: 'UTC',
      max_attempts: 5,
      priority: 7,
      paused: false,
    });
  });
});
