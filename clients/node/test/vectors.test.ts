/*
 * The client's codec against the conformance suite protocol/vectors/{valid,invalid}.json
 * (docs/protocol.md §8): every valid frame decodes to its meaning and its meaning encodes to
 * the canonical bytes; every invalid frame fails with its code at its stage.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { DecodeError, FrameReader, decodeBody, decodeFrame, encodeFrame } from '../src/codec';
import { ReseolioError } from '../src/errors';
import type { Message } from '../src/schema';
import { hex, parseJsonBig, repoRoot, unhex } from './helpers';

interface ValidCase {
  name: string;
  hex: string;
  canonical_hex?: string;
  message: { type: string; request_id: number; fields: Record<string, unknown> };
}
interface InvalidCase {
  name: string;
  hex: string;
  error: string;
  stage: 'frame' | 'body';
  max_frame?: number;
}

const dir = join(repoRoot(), 'protocol', 'vectors');
const valid = parseJsonBig(readFileSync(join(dir, 'valid.json'), 'utf8')) as ValidCase[];
const invalid = parseJsonBig(readFileSync(join(dir, 'invalid.json'), 'utf8')) as InvalidCase[];

/** The vector's JSON meaning as the codec's values: {"$bin": hex} → bytes. */
function fromJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$bin === 'string' && Object.keys(o).length === 1) return unhex(o.$bin);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromJson(x)]));
  }
  return v;
}

/** A form both sides compare in: bytes as hex, every integer as a bigint. */
function normal(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bin: hex(v) };
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(normal);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, normal(x)]));
  }
  return v;
}

describe('protocol vectors: valid', () => {
  test('the suite is there', () => {
    assert.ok(valid.length > 0);
  });
  for (const c of valid) {
    test(`decode ${c.name}`, () => {
      const msgs = decodeFrame(unhex(c.hex));
      assert.equal(msgs.length, 1);
      const m = msgs[0]!;
      assert.equal(m.type, c.message.type);
      assert.equal(m.requestId, c.message.request_id);
      assert.deepStrictEqual(normal(m.fields), normal(c.message.fields));
    });
    test(`encode ${c.name}`, () => {
      const msg = {
        type: c.message.type,
        requestId: c.message.request_id,
        fields: fromJson(c.message.fields),
      } as Message;
      assert.equal(hex(encodeFrame(msg)), c.canonical_hex ?? c.hex);
    });
  }
});

describe('protocol vectors: invalid', () => {
  test('the suite is there', () => {
    assert.ok(invalid.length > 0);
  });
  for (const c of invalid) {
    test(`${c.stage} ${c.name} → ${c.error}`, () => {
      const reader = new FrameReader(c.max_frame ?? 1048576);
      const bodies: Buffer[] = [];
      let frameError: unknown;
      try {
        reader.push(unhex(c.hex), (b) => bodies.push(b));
      } catch (e) {
        frameError = e;
      }
      if (c.stage === 'frame') {
        assert.ok(frameError instanceof ReseolioError, `expected a frame error, got ${String(frameError)}`);
        assert.equal(frameError.code, c.error);
        return;
      }
      assert.equal(frameError, undefined);
      assert.equal(bodies.length, 1);
      assert.throws(
        () => decodeBody(bodies[0]!),
        (e: unknown) => {
          assert.ok(e instanceof DecodeError, String(e));
          assert.equal(e.code, c.error, e.message);
          return true;
        },
      );
    });
  }
});
