/*
 * Unit tests of the rules users meet first: namespaces, the per-call options rule, the socket
 * path rule, argument encoding, and the encoder refusing what the protocol refuses.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { encodeFrame } from '../src/codec';
import { resolveSocketPath } from '../src/daemon';
import { ReseolioError } from '../src/errors';
import { jobIdToWire } from '../src/job-handle';
import { CALL_OPTION_KEYS, enqueueFields, isDetached, namespace, splitCallArgs } from '../src/options';
import { decodeArgs, decodeResult, encodeArgs, encodeResult } from '../src/payload';
import type { Message } from '../src/schema';
import { errorText } from '../src/worker';
import { hex } from './helpers';

describe('namespace()', () => {
  test('joins parts with ":"', () => {
    assert.equal(namespace('notifications', 'email', 'send'), 'notifications:email:send');
    assert.equal(namespace('one'), 'one');
  });
  test('rejects empty parts, parts with ":" and no parts', () => {
    assert.throws(() => namespace('a', '', 'c'), /part 1 is empty/);
    assert.throws(() => namespace('a:b', 'c'), /part 0 .* contains ':'/);
    assert.throws(() => namespace(), /at least one part/);
    assert.throws(() => namespace('a', 3 as unknown as string), TypeError);
  });
  test('rejects a result longer than 255 bytes', () => {
    assert.throws(() => namespace('x'.repeat(200), 'y'.repeat(60)), /1–255 bytes/);
  });
});

describe('the per-call options rule', () => {
  test('a trailing plain object of option names beyond the handler arity is options', () => {
    assert.deepEqual(splitCallArgs(1, [5, { idempotencyKey: 'k' }]), { args: [5], options: { idempotencyKey: 'k' } });
    assert.deepEqual(splitCallArgs(0, [{ priority: 1, delayMs: 5 }]), { args: [], options: { priority: 1, delayMs: 5 } });
  });
  test('not when the handler declares that many parameters', () => {
    assert.deepEqual(splitCallArgs(2, [5, { idempotencyKey: 'k' }]).options, undefined);
  });
  test('not when any key is not an option name', () => {
    assert.equal(splitCallArgs(1, [5, { idempotencyKey: 'k', amount: 3 }]).options, undefined);
  });
  test('not for an empty object, an array, a Date, a class instance or null', () => {
    class Opts {
      idempotencyKey = 'k';
    }
    for (const last of [{}, [], new Date(), new Opts(), null, 'idempotencyKey']) {
      assert.equal(splitCallArgs(0, [last]).options, undefined, String(last));
    }
  });
  test('an Object.create(null) object counts as plain', () => {
    const o = Object.assign(Object.create(null) as object, { runAt: 5 });
    assert.equal(splitCallArgs(0, [o]).options, o);
  });
  test('the option names', () => {
    assert.deepEqual(
      [...CALL_OPTION_KEYS].sort(),
      ['backoff', 'delayMs', 'detached', 'idempotencyKey', 'initialDelayMs', 'jitter', 'maxAttempts', 'maxDelayMs', 'priority', 'runAt', 'timeoutMs'],
    );
  });
  test('detached is an option name too; it is not sent, and must be a boolean', () => {
    assert.deepEqual(splitCallArgs(1, [5, { detached: true }]), { args: [5], options: { detached: true } });
    assert.deepEqual(enqueueFields('f', new Uint8Array(0), { detached: true, priority: 2 }), { name: 'f', args: new Uint8Array(0), priority: 2 });
    assert.equal(isDetached(undefined), false);
    assert.equal(isDetached({ detached: false }), false);
    assert.equal(isDetached({ detached: true }), true);
    assert.throws(() => isDetached({ detached: 1 as unknown as boolean }), /option detached: must be a boolean/);
  });
});

describe('socket path rule (§1)', () => {
  test('explicit, RESEOLIO_SOCKET, XDG_RUNTIME_DIR, /tmp/reseolio-$UID', () => {
    assert.equal(resolveSocketPath('/x/y.sock', { RESEOLIO_SOCKET: '/a' }), '/x/y.sock');
    assert.equal(resolveSocketPath(undefined, { RESEOLIO_SOCKET: '/a', XDG_RUNTIME_DIR: '/run/u' }), '/a');
    assert.equal(resolveSocketPath(undefined, { XDG_RUNTIME_DIR: '/run/u' }), '/run/u/reseolio/reseolio.sock');
    assert.equal(resolveSocketPath(undefined, { RESEOLIO_SOCKET: '' }), `/tmp/reseolio-${process.getuid!()}/reseolio.sock`);
  });
});

describe('job arguments and results', () => {
  test('round trip of the types MessagePack carries', () => {
    const args = [1, -2.5, 'é', true, null, [1, [2]], { a: { b: 1 } }, new Date(0), new Uint8Array([9]), 12345678901234567890n];
    const back = decodeArgs(encodeArgs(args));
    assert.equal(back.length, args.length);
    assert.deepEqual(back.slice(0, 7), args.slice(0, 7));
    assert.equal((back[7] as Date).getTime(), 0);
    assert.deepEqual([...(back[8] as Uint8Array)], [9]);
    assert.equal(back[9], 12345678901234567890n);
  });
  test('arguments are one plain MessagePack array (other languages read it)', () => {
    assert.equal(hex(encodeArgs(['a', 1])), '92a16101');
    assert.equal(hex(encodeArgs([{ k: undefined, v: 1 }, undefined])), '9281a17601c0');
  });
  test('what cannot be encoded is a clear error, not a silent loss', () => {
    assert.throws(() => encodeArgs([() => 1]), (e: ReseolioError) => e.code === 'bad_value' && /function/.test(e.message));
    assert.throws(() => encodeArgs([{ s: Symbol('x') }]), /symbol/);
    assert.throws(() => encodeArgs([2n ** 64n]), /64-bit/);
    assert.throws(() => encodeArgs([new Date(NaN)]), /invalid Date/);
    assert.throws(() => encodeResult(() => 1), /the result cannot be encoded/);
  });
  test('no result is undefined; empty arguments are none', () => {
    assert.equal(decodeResult(undefined), undefined);
    assert.equal(decodeResult(new Uint8Array(0)), undefined);
    assert.deepEqual(decodeArgs(new Uint8Array(0)), []);
    assert.throws(() => decodeArgs(encodeResult(5)), /not a MessagePack array/);
  });
});

describe('job ids', () => {
  test('decimal strings, numbers and bigints; uint64 range', () => {
    assert.equal(jobIdToWire('42'), 42);
    assert.equal(jobIdToWire(42), 42);
    assert.equal(jobIdToWire('18446744073709551615'), 18446744073709551615n);
    assert.throws(() => jobIdToWire('18446744073709551616'), /out of range/);
    for (const bad of ['-1', '1.5', '', 'x', -1, 1.5]) assert.throws(() => jobIdToWire(bad), ReseolioError);
  });
});

describe('the encoder refuses what the protocol refuses', () => {
  const enqueue = (fields: object) => encodeFrame({ type: 'ENQUEUE', requestId: 1, fields } as Message);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as ReseolioError).code;
    }
    return 'ok';
  };
  test('codes as the decoder would give them', () => {
    assert.equal(code(() => enqueue({})), 'missing_field');
    assert.equal(code(() => enqueue({ name: 5 })), 'bad_type');
    assert.equal(code(() => enqueue({ name: '' })), 'bad_value');
    assert.equal(code(() => enqueue({ name: 'a\0b' })), 'bad_value');
    assert.equal(code(() => enqueue({ name: 'a\uD800' })), 'bad_value');
    assert.equal(code(() => enqueue({ name: 'n', max_attempts: 1.5 })), 'bad_type');
    assert.equal(code(() => enqueue({ name: 'n', max_attempts: -1 })), 'bad_value');
    assert.equal(code(() => enqueue({ name: 'n', priority: 2 ** 60 })), 'bad_value');
    assert.equal(code(() => enqueue({ name: 'n', jitter: NaN })), 'bad_value');
    assert.equal(code(() => enqueue({ name: 'n', run_at: 1, delay_ms: 1 })), 'bad_value');
    assert.equal(code(() => enqueue({ name: 'n', args: [1] })), 'bad_type');
    assert.equal(code(() => enqueue({ name: 'n', args: new Uint8Array(2000) })), 'ok');
    assert.equal(code(() => encodeFrame({ type: 'ENQUEUE', requestId: 1, fields: { name: 'n', args: new Uint8Array(5000) } }, 4096)), 'frame_too_large');
  });
});

describe('error text sent in ACK', () => {
  test('names the error class, bounded, well-formed', () => {
    assert.equal(errorText(new TypeError('x')), 'TypeError: x');
    assert.equal(errorText(new Error('plain')), 'plain');
    assert.equal(errorText('a\0b'), 'a\\0b');
    assert.equal(errorText('\uD800'), '\uFFFD');
    assert.ok(Buffer.byteLength(errorText('é'.repeat(40000))) <= 65536);
  });
});
