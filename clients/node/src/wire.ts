/*
 * MessagePack at the level the envelope needs: a writer that always picks the canonical
 * (smallest) encoding, a bounds walk that checks a body before anything is built from it,
 * and a cursor that reads the values the field tables ask for.
 *
 * Hand-written rather than msgpackr because the envelope needs what a general encoder does not
 * give: float 64 for an integral jitter, the smallest encoding of a bigint, duplicate-key and
 * non-string-key detection, strict UTF-8, and limits checked before allocation (§2).
 */

import { MAX_DEPTH, MAX_VALUES } from './schema.js';

/** A problem found in a body, with the §6 code the decoder reports. */
export class WireError extends Error {
  constructor(
    readonly code: 'malformed' | 'too_deep' | 'too_many_elements',
    message: string,
  ) {
    super(message);
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** A growable output buffer; frames are appended, then taken as one Buffer. */
export class Writer {
  private buf: Buffer;
  private view: DataView;
  pos = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Make room for n more bytes. */
  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** The bytes written so far, and a fresh empty writer state (the Buffer is handed over). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(256, Math.min(this.buf.length, 64 * 1024)));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
    return out;
  }

  /** Forget everything after position p (a frame that failed to encode). */
  truncate(p: number): void {
    this.pos = p;
  }

  byte(b: number): void {
    this.need(1);
    this.buf[this.pos++] = b;
  }

  /** Overwrite a 4-byte big-endian value at p (a frame header). */
  patchU32(p: number, v: number): void {
    this.view.setUint32(p, v);
  }

  reserve(n: number): number {
    this.need(n);
    const p = this.pos;
    this.pos += n;
    return p;
  }

  raw(bytes: Uint8Array): void {
    this.need(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  nil(): void {
    this.byte(0xc0);
  }

  bool(v: boolean): void {
    this.byte(v ? 0xc3 : 0xc2);
  }

  /** An integer in its smallest encoding: the uint family when ≥ 0, the int family below. */
  int(v: number | bigint): void {
    if (typeof v === 'number') {
      if (v >= 0) {
        if (v < 0x80) return this.byte(v);
        this.need(9);
        if (v < 0x100) {
          this.buf[this.pos++] = 0xcc;
          this.buf[this.pos++] = v;
        } else if (v < 0x10000) {
          this.buf[this.pos++] = 0xcd;
          this.view.setUint16(this.pos, v);
          this.pos += 2;
        } else if (v < 0x100000000) {
          this.buf[this.pos++] = 0xce;
          this.view.setUint32(this.pos, v);
          this.pos += 4;
        } else {
          this.buf[this.pos++] = 0xcf;
          this.view.setBigUint64(this.pos, BigInt(v));
          this.pos += 8;
        }
        return;
      }
      if (v >= -32) return this.byte(v & 0xff);
      this.need(9);
      if (v >= -0x80) {
        this.buf[this.pos++] = 0xd0;
        this.view.setInt8(this.pos, v);
        this.pos += 1;
      } else if (v >= -0x8000) {
        this.buf[this.pos++] = 0xd1;
        this.view.setInt16(this.pos, v);
        this.pos += 2;
      } else if (v >= -0x80000000) {
        this.buf[this.pos++] = 0xd2;
        this.view.setInt32(this.pos, v);
        this.pos += 4;
      } else {
        this.buf[this.pos++] = 0xd3;
        this.view.setBigInt64(this.pos, BigInt(v));
        this.pos += 8;
      }
      return;
    }
    // A bigint: small ones take the number path so that the encoding is the smallest.
    if (v >= -0x80000000n && v < 0x100000000n) return this.int(Number(v));
    this.need(9);
    if (v >= 0n) {
      this.buf[this.pos++] = 0xcf;
      this.view.setBigUint64(this.pos, v);
    } else {
      this.buf[this.pos++] = 0xd3;
      this.view.setBigInt64(this.pos, v);
    }
    this.pos += 8;
  }

  float64(v: number): void {
    this.need(9);
    this.buf[this.pos++] = 0xcb;
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  /** A header of the str/bin/array/map family: fixed form when small, else 8/16/32-bit length. */
  private header(n: number, fix: number, fixMax: number, t8: number, t16: number, t32: number): void {
    this.need(5);
    if (n < fixMax) {
      this.buf[this.pos++] = fix | n;
    } else if (t8 !== 0 && n < 0x100) {
      this.buf[this.pos++] = t8;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos++] = t16;
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = t32;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
  }

  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.header(n, 0xa0, 32, 0xd9, 0xda, 0xdb);
    this.need(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  bin(b: Uint8Array): void {
    // bin has no fixed form: fixMax 0 sends every length through bin 8/16/32
    this.header(b.length, 0, 0, 0xc4, 0xc5, 0xc6);
    this.raw(b);
  }

  arrayHeader(n: number): void {
    this.header(n, 0x90, 16, 0, 0xdc, 0xdd);
  }

  mapHeader(n: number): void {
    this.header(n, 0x80, 16, 0, 0xde, 0xdf);
  }
}

// ---- The bounds walk (§2 rules 1–3): reads only headers, allocates nothing. ----

/** Payload bytes of the fixed-size number tags; -1 for others. */
function numberSize(tag: number): number {
  switch (tag) {
    case 0xcc:
    case 0xd0:
      return 1;
    case 0xcd:
    case 0xd1:
      return 2;
    case 0xca:
    case 0xce:
    case 0xd2:
      return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 8;
    default:
      return -1;
  }
}

/** Size of the length field of the str/bin/array/map tags that carry one; 0 for the others. */
function lengthSize(tag: number): number {
  switch (tag) {
    case 0xc4:
    case 0xd9:
      return 1;
    case 0xc5:
    case 0xda:
    case 0xdc:
    case 0xde:
      return 2;
    case 0xc6:
    case 0xdb:
    case 0xdd:
    case 0xdf:
      return 4;
    default:
      return 0;
  }
}

function readBE(p: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + p[at + i]!;
  return v;
}

/**
 * Check that body is exactly one MessagePack value within the limits, reading headers only.
 * The first problem in byte order wins. Throws WireError.
 */
export function walk(body: Uint8Array, maxDepth = MAX_DEPTH, maxValues = MAX_VALUES): void {
  const end = body.length;
  const left: number[] = []; // values still owed by each open container
  let p = 0;
  let values = 0;
  for (;;) {
    if (p >= end) throw new WireError('malformed', 'body: truncated value');
    if (++values > maxValues) throw new WireError('too_many_elements', `body: more than ${maxValues} values`);
    const tag = body[p++]!;
    let items = -1; // containers: values inside
    let skip = 0; // others: payload bytes after the header
    let isBytes = false;
    if (tag <= 0x7f || tag >= 0xe0 || tag === 0xc0 || tag === 0xc2 || tag === 0xc3) {
      // fixint, nil, bool: the tag is the value
    } else if (tag >= 0xa0 && tag <= 0xbf) {
      skip = tag & 0x1f;
      isBytes = true;
    } else if (tag >= 0x80 && tag <= 0x9f) {
      items = (tag & 0x0f) * (tag < 0x90 ? 2 : 1);
    } else {
      const num = numberSize(tag);
      if (num > 0) {
        skip = num;
      } else {
        const ls = lengthSize(tag);
        if (ls === 0) throw new WireError('malformed', `body: byte 0x${tag.toString(16)} is not used by this protocol`);
        if (end - p < ls) throw new WireError('malformed', 'body: truncated header');
        const n = readBE(body, p, ls);
        p += ls;
        if (tag === 0xdc || tag === 0xdd) items = n;
        else if (tag === 0xde || tag === 0xdf) items = n * 2;
        else {
          skip = n;
          isBytes = true;
        }
      }
    }
    const rest = end - p;
    if (items >= 0) {
      if (left.length + 1 > maxDepth) throw new WireError('too_deep', `body: nested deeper than ${maxDepth}`);
      if (items > rest) throw new WireError('too_many_elements', 'body: a container declares more values than bytes left');
      if (items > 0) {
        left.push(items);
        continue;
      }
    } else if (skip > rest) {
      if (isBytes) throw new WireError('too_many_elements', 'body: a string or binary is longer than the bytes left');
      throw new WireError('malformed', 'body: truncated number');
    } else {
      p += skip;
    }
    // one value finished: close every container it completes
    while (left.length > 0 && --left[left.length - 1]! === 0) left.pop();
    if (left.length === 0) break;
  }
  if (p !== end) throw new WireError('malformed', 'body: bytes after the value');
}

// ---- The reading cursor, used after walk() has passed: no bounds checks needed. ----

/** What a value is, as the field tables distinguish it. */
export type Kind = 'int' | 'float' | 'nil' | 'bool' | 'str' | 'bin' | 'array' | 'map';

/** A cursor over a body that walk() accepted. */
export class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(readonly body: Uint8Array) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  /** The kind of the next value, without consuming it. */
  peek(): Kind {
    const t = this.body[this.pos]!;
    if (t <= 0x7f || t >= 0xe0) return 'int';
    if (t <= 0x8f) return 'map';
    if (t <= 0x9f) return 'array';
    if (t <= 0xbf) return 'str';
    switch (t) {
      case 0xc0:
        return 'nil';
      case 0xc2:
      case 0xc3:
        return 'bool';
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return 'bin';
      case 0xca:
      case 0xcb:
        return 'float';
      case 0xd9:
      case 0xda:
      case 0xdb:
        return 'str';
      case 0xdc:
      case 0xdd:
        return 'array';
      case 0xde:
      case 0xdf:
        return 'map';
      default:
        return 'int'; // 0xcc–0xd3; the walk refused everything else
    }
  }

  /** An integer (peek() === 'int'): a number when safe, else a bigint. */
  int(): number | bigint {
    const t = this.body[this.pos++]!;
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    const v = this.view;
    const p = this.pos;
    let r: number | bigint;
    switch (t) {
      case 0xcc:
        r = v.getUint8(p);
        this.pos += 1;
        break;
      case 0xcd:
        r = v.getUint16(p);
        this.pos += 2;
        break;
      case 0xce:
        r = v.getUint32(p);
        this.pos += 4;
        break;
      case 0xcf:
        r = v.getBigUint64(p);
        this.pos += 8;
        break;
      case 0xd0:
        r = v.getInt8(p);
        this.pos += 1;
        break;
      case 0xd1:
        r = v.getInt16(p);
        this.pos += 2;
        break;
      case 0xd2:
        r = v.getInt32(p);
        this.pos += 4;
        break;
      default:
        r = v.getBigInt64(p);
        this.pos += 8;
        break;
    }
    if (typeof r === 'bigint' && r >= -0x1fffffffffffffn && r <= 0x1fffffffffffffn) return Number(r);
    return r;
  }

  /** A float 32 or float 64 (peek() === 'float'). */
  float(): number {
    const t = this.body[this.pos++]!;
    const p = this.pos;
    if (t === 0xca) {
      this.pos += 4;
      return this.view.getFloat32(p);
    }
    this.pos += 8;
    return this.view.getFloat64(p);
  }

  bool(): boolean {
    return this.body[this.pos++] === 0xc3;
  }

  /** The length of a str/bin/array/map header, consuming it (map: entries, not values). */
  length(): number {
    const t = this.body[this.pos++]!;
    if (t >= 0xa0 && t <= 0xbf) return t & 0x1f;
    if (t >= 0x90 && t <= 0x9f) return t & 0x0f;
    if (t >= 0x80 && t <= 0x8f) return t & 0x0f;
    const ls = lengthSize(t);
    const n = readBE(this.body, this.pos, ls);
    this.pos += ls;
    return n;
  }

  /** The raw bytes of a str or bin (peek() is 'str' or 'bin'); a view into the body. */
  bytes(): Uint8Array {
    const n = this.length();
    const out = this.body.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Step over one value of any kind. */
  skip(): void {
    let owed = 1;
    while (owed > 0) {
      owed--;
      const t = this.body[this.pos]!;
      switch (this.peek()) {
        case 'int':
        case 'nil':
        case 'bool':
          this.pos++;
          if (t >= 0xcc && t <= 0xd3) this.pos += numberSize(t);
          break;
        case 'float':
          this.pos += 1 + numberSize(t);
          break;
        case 'str':
        case 'bin':
          this.bytes();
          break;
        case 'array':
          owed += this.length();
          break;
        case 'map':
          owed += 2 * this.length();
          break;
      }
    }
  }
}

/** Decode strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF); undefined when invalid. */
export function utf8(bytes: Uint8Array): string | undefined {
  const n = bytes.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    if (n < 24) return String.fromCharCode.apply(null, bytes as unknown as number[]);
    return Buffer.from(bytes.buffer, bytes.byteOffset, n).toString('latin1');
  }
  try {
    return textDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}
