/*
 * Job arguments and results: plain MessagePack through msgpackr, opaque to the daemon (§5).
 * Arguments are one array, a result one value, so that clients in other languages can call
 * and read each other's functions.
 */

import { Packr, Unpackr } from 'msgpackr';

import { ReseolioError } from './errors.js';

function refuse(what: string): never {
  throw new TypeError(`${what} cannot be carried by MessagePack`);
}

// Standard MessagePack only (no records, no structured clone): other clients must read it.
// Dates use the standard timestamp extension; bigints the 64-bit integer forms (both ways).
const packOptions = {
  useRecords: false,
  moreTypes: false,
  variableMapSize: true,
  encodeUndefinedAsNil: true, // undefined in an array or as a value: nil, as JSON would say null
  skipValues: [undefined], // an object property that is undefined is left out, as in JSON
  useToJSON: false,
  writeFunction: () => refuse('a function'),
  onInvalidDate: () => refuse('an invalid Date'),
};
const packr = new Packr(packOptions); // skipValues is not in msgpackr's typings, hence no literal

const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'bigint',
  copyBuffers: true, // do not keep the socket's receive buffers alive through a result
});

/** Explain an encoding failure in terms of the user's call. */
function encodeError(what: string, e: unknown): ReseolioError {
  let why = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError && /call stack/i.test(why)) why = 'it is cyclic or nested too deeply';
  else if (/Unknown type: symbol/.test(why)) why = 'a symbol cannot be carried by MessagePack';
  return new ReseolioError('bad_value', `${what} cannot be encoded: ${why}`, false, { cause: e });
}

/** Encode a call's arguments (one MessagePack array). Throws ReseolioError `bad_value`. */
export function encodeArgs(args: readonly unknown[], what = 'the arguments'): Uint8Array {
  try {
    return packr.pack(args);
  } catch (e) {
    throw encodeError(what, e);
  }
}

/** Encode a handler's return value. Throws ReseolioError `bad_value`. */
export function encodeResult(value: unknown, what = 'the result'): Uint8Array {
  try {
    return packr.pack(value);
  } catch (e) {
    throw encodeError(what, e);
  }
}

/** Decode arguments; an empty or missing bin is no arguments. */
export function decodeArgs(bytes: Uint8Array | undefined): unknown[] {
  if (bytes === undefined || bytes.length === 0) return [];
  const v: unknown = unpackr.unpack(bytes);
  if (!Array.isArray(v)) throw new ReseolioError('bad_value', 'job arguments are not a MessagePack array');
  return v;
}

/** Decode a result; an empty or missing bin is `undefined` (a function that returned nothing). */
export function decodeResult(bytes: Uint8Array | undefined): unknown {
  if (bytes === undefined || bytes.length === 0) return undefined;
  return unpackr.unpack(bytes);
}
