/*
 * The frame reader and codec beyond the vectors: bytes arriving in any split, the limit
 * growing at WELCOME, oversized frames refused from the header alone, and round trips.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FrameReader, decodeBody, encodeFrame } from '../src/codec';
import { ReseolioError } from '../src/errors';
import type { Message } from '../src/schema';

const ping = (id: number) => encodeFrame({ type: 'PING', requestId: id, fields: {} });

describe('frame reader', () => {
  test('bodies come out whole whatever the chunking', () => {
    const stream = Buffer.concat([ping(1), encodeFrame({ type: 'ENQUEUE', requestId: 2, fields: { name: 'n', args: new Uint8Array(3000) } }), ping(3)]);
    for (const size of [1, 2, 3, 5, 7, 64, 4096, stream.length]) {
      const r = new FrameReader();
      const ids: number[] = [];
      for (let i = 0; i < stream.length; i += size) r.push(stream.subarray(i, i + size), (b) => ids.push(decodeBody(b).requestId));
      assert.deepEqual(ids, [1, 2, 3], `chunks of ${size}`);
      assert.equal(r.buffered, 0);
    }
  });

  test('the limit may grow between two frames of one chunk (WELCOME then a large frame)', () => {
    const big = encodeFrame({ type: 'ENQUEUE', requestId: 2, fields: { name: 'n', args: new Uint8Array(5000) } });
    const r = new FrameReader(4096);
    const seen: string[] = [];
    r.push(Buffer.concat([ping(1), big]), (b) => {
      seen.push(decodeBody(b).type);
      r.limit = 1048576;
    });
    assert.deepEqual(seen, ['PING', 'ENQUEUE']);
  });

  test('an oversized frame is refused from its 4 header bytes, before its body arrives', () => {
    const r = new FrameReader(4096);
    assert.throws(() => r.push(Buffer.from([0, 0, 0x10, 0x01]), () => undefined), (e: ReseolioError) => e.code === 'frame_too_large');
    // and the reader stays failed
    assert.throws(() => r.push(ping(1), () => undefined), (e: ReseolioError) => e.code === 'frame_too_large');
  });

  test('a header split across chunks is still checked', () => {
    const r = new FrameReader(4096);
    r.push(Buffer.from([0, 0]), () => undefined);
    assert.throws(() => r.push(Buffer.from([0, 0]), () => undefined), (e: ReseolioError) => e.code === 'empty_frame');
  });
});

describe('codec round trips', () => {
  test('64-bit values survive both ways', () => {
    const m: Message = {
      type: 'JOB',
      requestId: 0xffffffff,
      fields: {
        id: 2n ** 64n - 1n,
        name: 'n',
        status: 'dead',
        attempt: 2n ** 40n,
        max_attempts: 3,
        args: new Uint8Array([0x90]),
        priority: -(2n ** 63n),
        created_at: 2n ** 63n - 1n,
        run_at: -1,
      },
    };
    const back = decodeBody(encodeFrame(m).subarray(4));
    assert.equal(back.requestId, 0xffffffff);
    const f = back.fields as Record<string, unknown>;
    assert.deepEqual([...(f.args as Uint8Array)], [0x90]);
    assert.deepEqual({ ...f, args: null }, { ...m.fields, args: null, attempt: 2 ** 40 });
  });

  test('a bigint that fits is sent in its smallest form', () => {
    const a = encodeFrame({ type: 'GET', requestId: 1, fields: { job: 5n } });
    const b = encodeFrame({ type: 'GET', requestId: 1, fields: { job: 5 } });
    assert.deepEqual(a, b);
  });

  test('jitter is always float 64, even when integral', () => {
    const f = encodeFrame({ type: 'ENQUEUE', requestId: 1, fields: { name: 'n', jitter: 1 } });
    assert.equal(f.subarray(-9).toString('hex'), 'cb3ff0000000000000');
  });
});
