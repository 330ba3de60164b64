/*
 * Frames and messages of docs/protocol.md: a frame reader that decides from the 4 header bytes
 * alone, and an encoder/decoder of bodies driven by the field tables of schema.ts, with the
 * validation and error codes of §2 in both directions.
 */

import { ReseolioError, type ErrorCode } from './errors.js';
import {
  FRAME_HEADER,
  MAX_FRAME_DEFAULT,
  MSG_TYPE_NAMES,
  MsgType,
  NAME_RULE,
  TABLES,
  type Field,
  type Message,
  type Table,
} from './schema.js';
import { Reader, WireError, Writer, utf8, walk } from './wire.js';

/** A body the decoder refused; requestId is set when the envelope could be read that far. */
export class DecodeError extends ReseolioError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly requestId: number | undefined,
  ) {
    super(code, message, false);
    this.name = 'DecodeError';
  }
}

// ---- Frames ----

/**
 * Splits a byte stream into frame bodies. The limit may be changed between bodies (it grows
 * from 4096 to max_frame when WELCOME arrives); a framing error is final.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private need = 0; // total bytes (header + body) of the frame being collected, once known
  private failed: ReseolioError | undefined;

  constructor(public limit: number = MAX_FRAME_DEFAULT) {}

  /**
   * Feed bytes; onBody is called once per complete body, in order, synchronously. Throws a
   * ReseolioError `empty_frame` or `frame_too_large` at the first bad header.
   */
  push(chunk: Buffer, onBody: (body: Buffer) => void): void {
    if (this.failed) throw this.failed;
    let buf: Buffer;
    if (this.pendingLen === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingLen += chunk.length;
      if (this.pendingLen < (this.need || FRAME_HEADER)) return; // still short: no copying yet
      buf = Buffer.concat(this.pending, this.pendingLen);
      this.pending = [];
      this.pendingLen = 0;
    }
    this.need = 0;
    let off = 0;
    while (buf.length - off >= FRAME_HEADER) {
      const len = buf.readUInt32BE(off);
      if (len === 0) this.fail('empty_frame', 'frame of length 0');
      if (len > this.limit) this.fail('frame_too_large', `frame of ${len} bytes, above the limit of ${this.limit}`);
      if (buf.length - off - FRAME_HEADER < len) {
        this.need = FRAME_HEADER + len;
        break;
      }
      const body = buf.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len);
      off += FRAME_HEADER + len;
      onBody(body);
      if (this.failed) return;
    }
    if (off < buf.length) {
      const rest = buf.subarray(off);
      this.pending.push(rest);
      this.pendingLen = rest.length;
    }
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.pendingLen;
  }

  private fail(code: ErrorCode, message: string): never {
    this.failed = new ReseolioError(code, message);
    this.pending = [];
    this.pendingLen = 0;
    throw this.failed;
  }
}

// ---- Encoding ----

const keyCache = new Map<string, Buffer>();

/** A field key as encoded (header + bytes), computed once. */
function keyBytes(key: string): Buffer {
  let b = keyCache.get(key);
  if (b === undefined) {
    const w = new Writer(key.length + 5);
    w.str(key);
    b = w.take();
    keyCache.set(key, b);
  }
  return b;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NON_ASCII = /[^\x01-\x7f]/;

function bad(code: ErrorCode, path: string, why: string): never {
  throw new ReseolioError(code, `${path}: ${why}`);
}

function range(f: Field): string {
  return ` (${f.min}..${f.max})`;
}

/** Check a string against a str row; returns its UTF-8 byte length. */
function checkStr(f: Field, s: unknown, path: string): string {
  if (typeof s !== 'string') bad('bad_type', path, 'expected str');
  if (NON_ASCII.test(s)) {
    if (s.includes('\0')) bad('bad_value', path, 'contains a NUL character');
    if (LONE_SURROGATE.test(s)) bad('bad_value', path, 'not valid Unicode (lone surrogate)');
  }
  const n = s.length <= 255 && !NON_ASCII.test(s) ? s.length : Buffer.byteLength(s, 'utf8');
  if (n < f.min || n > f.max) bad('bad_value', path, `length out of range${range(f)}`);
  return s;
}

function checkInt(f: Field, v: unknown, path: string, unsigned: boolean): number | bigint {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) bad('bad_type', path, unsigned ? 'expected uint' : 'expected int');
    if (!Number.isSafeInteger(v)) bad('bad_value', path, 'not a safe integer: pass a bigint');
  } else if (typeof v !== 'bigint') {
    bad('bad_type', path, unsigned ? 'expected uint' : 'expected int');
  }
  if (unsigned && v < 0) bad('bad_value', path, 'negative');
  if (v < f.min || v > f.max) bad('bad_value', path, `out of range${range(f)}`);
  return v;
}

/** Write one field's value after checking it against its row. */
function encodeValue(w: Writer, f: Field, v: unknown, where: string): void {
  const path = `${where}.${f.key}`;
  switch (f.kind) {
    case 'uint':
      return w.int(checkInt(f, v, path, true));
    case 'int':
      return w.int(checkInt(f, v, path, false));
    case 'float':
      if (typeof v !== 'number') bad('bad_type', path, 'expected float');
      if (!(v >= 0 && v <= 1)) bad('bad_value', path, 'out of range (0..1)');
      return w.float64(v);
    case 'bool':
      if (typeof v !== 'boolean') bad('bad_type', path, 'expected bool');
      return w.bool(v);
    case 'str':
      return w.str(checkStr(f, v, path));
    case 'bin':
      if (!(v instanceof Uint8Array)) bad('bad_type', path, 'expected bin (Uint8Array)');
      return w.bin(v);
    case 'enum':
      if (typeof v !== 'string') bad('bad_type', path, 'expected str');
      if (!f.values!.has(v)) bad('bad_value', path, `not one of ${[...f.values!].join(', ')}`);
      return w.str(v);
    case 'names': {
      if (!Array.isArray(v)) bad('bad_type', path, 'expected array');
      if (v.length < f.min || v.length > f.max) bad('bad_value', path, `number of entries out of range${range(f)}`);
      w.arrayHeader(v.length);
      for (let i = 0; i < v.length; i++) w.str(checkStr(NAME_RULE, v[i], `${path}[${i}]`));
      return;
    }
    case 'jobs': {
      if (!Array.isArray(v)) bad('bad_type', path, 'expected array');
      if (v.length < f.min || v.length > f.max) bad('bad_value', path, `number of entries out of range${range(f)}`);
      w.arrayHeader(v.length);
      for (let i = 0; i < v.length; i++) {
        const job: unknown = v[i];
        if (typeof job !== 'object' || job === null) bad('bad_type', `${path}[${i}]`, 'expected map');
        encodeMap(w, f.sub!, job as Record<string, unknown>, `${path}[${i}]`);
      }
      return;
    }
  }
}

/** Write the map of t's fields in canonical order, leaving out absent (undefined/null) optionals. */
function encodeMap(w: Writer, t: Table, fields: Record<string, unknown>, where: string): void {
  let count = 0;
  for (const f of t.fields) {
    if (fields[f.key] != null) count++;
    else if (f.required) bad('missing_field', `${where}.${f.key}`, 'missing');
  }
  const why = t.check?.(fields);
  if (why !== undefined) bad('bad_value', where, why);
  w.mapHeader(count);
  for (const f of t.fields) {
    const v = fields[f.key];
    if (v == null) continue;
    w.raw(keyBytes(f.key));
    encodeValue(w, f, v, where);
  }
}

/**
 * Append msg as one frame to w, in the canonical encoding. Throws ReseolioError (`bad_type`,
 * `bad_value`, `missing_field`, `frame_too_large`) and leaves w as it was.
 */
export function appendFrame(w: Writer, msg: Message, maxFrame: number = MAX_FRAME_DEFAULT): void {
  const start = w.pos;
  try {
    w.reserve(FRAME_HEADER);
    const type = MsgType[msg.type];
    const t = TABLES.get(type);
    if (t === undefined) bad('unknown_type', 'message', `unknown type ${String(msg.type)}`);
    const id = msg.requestId;
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) bad('bad_envelope', t.name, 'request id not in 0..4294967295');
    w.arrayHeader(3);
    w.int(type);
    w.int(id);
    encodeMap(w, t, msg.fields as unknown as Record<string, unknown>, t.name);
    const len = w.pos - start - FRAME_HEADER;
    if (len > maxFrame) {
      throw new ReseolioError('frame_too_large', `${t.name}: ${len} bytes, above the frame limit of ${maxFrame} bytes`);
    }
    w.patchU32(start, len);
  } catch (e) {
    w.truncate(start);
    throw e;
  }
}

/** One message as a whole frame (header and body). */
export function encodeFrame(msg: Message, maxFrame: number = MAX_FRAME_DEFAULT): Buffer {
  const w = new Writer();
  appendFrame(w, msg, maxFrame);
  return w.take();
}

// ---- Decoding ----

function fail(code: ErrorCode, message: string, requestId: number | undefined): never {
  throw new DecodeError(code, message, requestId);
}

/** Read one field's value (not nil) following its row; returns the decoded value. */
function decodeValue(r: Reader, f: Field, where: string, id: number | undefined): unknown {
  const path = `${where}.${f.key}`;
  const kind = r.peek();
  switch (f.kind) {
    case 'uint':
    case 'int': {
      if (kind !== 'int') fail('bad_type', `${path}: expected ${f.kind}`, id);
      const v = r.int();
      if (f.kind === 'uint' && v < 0) fail('bad_value', `${path}: negative`, id);
      if (v < f.min || v > f.max) fail('bad_value', `${path}: out of range${range(f)}`, id);
      return v;
    }
    case 'float': {
      let v: number;
      if (kind === 'float') v = r.float();
      else if (kind === 'int') v = Number(r.int());
      else fail('bad_type', `${path}: expected float`, id);
      if (!(v >= 0 && v <= 1)) fail('bad_value', `${path}: out of range (0..1)`, id);
      return v;
    }
    case 'bool':
      if (kind !== 'bool') fail('bad_type', `${path}: expected bool`, id);
      return r.bool();
    case 'str':
      if (kind !== 'str') fail('bad_type', `${path}: expected str`, id);
      return decodeStr(r, f, path, id);
    case 'bin':
      if (kind !== 'bin') fail('bad_type', `${path}: expected bin`, id);
      return r.bytes();
    case 'enum': {
      if (kind !== 'str') fail('bad_type', `${path}: expected str`, id);
      const s = utf8(r.bytes());
      if (s === undefined || !f.values!.has(s)) fail('bad_value', `${path}: not one of the allowed values`, id);
      return s;
    }
    case 'names': {
      if (kind !== 'array') fail('bad_type', `${path}: expected array`, id);
      const n = r.length();
      if (n < f.min || n > f.max) fail('bad_value', `${path}: number of entries out of range${range(f)}`, id);
      const out: string[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const at = `${path}[${i}]`;
        if (r.peek() !== 'str') fail('bad_type', `${at}: expected str`, id);
        out[i] = decodeStr(r, NAME_RULE, at, id);
      }
      return out;
    }
    case 'jobs': {
      if (kind !== 'array') fail('bad_type', `${path}: expected array`, id);
      const n = r.length();
      if (n < f.min || n > f.max) fail('bad_value', `${path}: number of entries out of range${range(f)}`, id);
      const out: Record<string, unknown>[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const at = `${path}[${i}]`;
        if (r.peek() !== 'map') fail('bad_type', `${at}: expected map`, id);
        out[i] = decodeMap(r, f.sub!, at, id);
      }
      return out;
    }
  }
}

/** A str value checked against row f: length in bytes, no NUL, strict UTF-8. */
function decodeStr(r: Reader, f: Field, path: string, id: number | undefined): string {
  const b = r.bytes();
  if (b.length < f.min || b.length > f.max) fail('bad_value', `${path}: length out of range${range(f)}`, id);
  if (b.includes(0)) fail('bad_value', `${path}: contains a NUL byte`, id);
  const s = utf8(b);
  if (s === undefined) fail('bad_value', `${path}: not valid UTF-8`, id);
  return s;
}

/** Decode a map (the cursor is at its header) following table t. */
function decodeMap(r: Reader, t: Table, where: string, id: number | undefined): Record<string, unknown> {
  const n = r.length();
  const out: Record<string, unknown> = {};
  let seen = 0; // bit i: row i appeared
  let given = 0; // bit i: row i had a non-nil value
  for (let i = 0; i < n; i++) {
    if (r.peek() !== 'str') fail('bad_type', `${where}: a key is not a string`, id);
    const key = utf8(r.bytes());
    const idx = key === undefined ? undefined : t.index.get(key);
    if (idx === undefined) {
      r.skip(); // unknown keys are ignored (§2 rule 4)
      continue;
    }
    const f = t.fields[idx]!;
    const bit = 1 << idx;
    if (seen & bit) fail('bad_value', `${where}.${f.key}: given twice`, id);
    seen |= bit;
    if (r.peek() === 'nil') {
      r.pos++; // nil means absent
      continue;
    }
    out[f.key] = decodeValue(r, f, where, id);
    given |= bit;
  }
  for (let i = 0; i < t.fields.length; i++) {
    const f = t.fields[i]!;
    if (f.required && !(given & (1 << i))) fail('missing_field', `${where}.${f.key}: missing`, id);
  }
  const why = t.check?.(out);
  if (why !== undefined) fail('bad_value', `${where}: ${why}`, id);
  return out;
}

/**
 * Decode one frame body. Throws DecodeError with the §6 code; binary fields are views into
 * body, integers are numbers when safe and bigints beyond.
 */
export function decodeBody(body: Uint8Array): Message {
  try {
    walk(body);
  } catch (e) {
    if (e instanceof WireError) fail(e.code, e.message, undefined);
    throw e;
  }
  const r = new Reader(body);
  if (r.peek() !== 'array' || r.length() !== 3) fail('bad_envelope', 'body: not an array of 3 elements', undefined);
  let type: number | bigint | undefined;
  if (r.peek() === 'int') {
    const v = r.int();
    if (v >= 0) type = v;
  } else r.skip();
  let id: number | undefined;
  if (r.peek() === 'int') {
    const v = r.int();
    if (v >= 0 && v <= 0xffffffff) id = Number(v);
  } else r.skip();
  if (type === undefined) fail('bad_envelope', 'body: type is not an unsigned integer', id);
  if (id === undefined) fail('bad_envelope', 'body: request id is not in 0..4294967295', id);
  if (r.peek() !== 'map') fail('bad_envelope', 'body: fields are not a map', id);
  const mapAt = r.pos;
  const n = r.length();
  for (let i = 0; i < n; i++) {
    if (r.peek() !== 'str') fail('bad_envelope', 'body: a field key is not a string', id);
    r.skip();
    r.skip();
  }
  const name = typeof type === 'number' ? MSG_TYPE_NAMES.get(type) : undefined;
  if (name === undefined) fail('unknown_type', `body: unknown message type ${type}`, id);
  r.pos = mapAt;
  const t = TABLES.get(MsgType[name])!;
  const fields = decodeMap(r, t, t.name, id);
  return { type: name, requestId: id, fields } as Message;
}

/** Decode a whole frame (header and body), as the test vectors give them. */
export function decodeFrame(frame: Uint8Array, limit: number = MAX_FRAME_DEFAULT): Message[] {
  const out: Message[] = [];
  new FrameReader(limit).push(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), (b) => {
    out.push(decodeBody(b));
  });
  return out;
}
