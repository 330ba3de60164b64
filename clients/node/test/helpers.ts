/*
 * Shared test helpers: where the repository is, a JSON reader that keeps big integers exact,
 * temporary socket directories, and the daemon binary the integration tests use.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The repository root: the nearest ancestor with protocol/vectors. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'protocol', 'vectors'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found above ' + __dirname);
    dir = up;
  }
}

/**
 * JSON.parse, except that integers outside the safe range become bigints (the vectors hold
 * 64-bit values that a double cannot carry).
 */
export function parseJsonBig(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        const k = value() as string;
        ws();
        i++; // ':'
        o[k] = value();
        ws();
        if (text[i++] === '}') return o;
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value());
        ws();
        if (text[i++] === ']') return a;
      }
    }
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
      return s;
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?|^true|^false|^null/.exec(text.slice(i, i + 64));
    if (!m) throw new Error(`bad JSON at ${i}`);
    i += m[0].length;
    if (/^-?\d+$/.test(m[0])) {
      const b = BigInt(m[0]);
      return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    }
    return JSON.parse(m[0]);
  };
  return value();
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

/** A private directory (mode 0700) for sockets; removed by the returned function. */
export function tempSocketDir(prefix = 'rsn-'): { dir: string; socket: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, socket: join(dir, 'reseolio.sock'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The daemon binary for integration tests: $RESEOLIO_DAEMON, else the repo's build/ dir. */
export function daemonBinary(): string | undefined {
  const env = process.env.RESEOLIO_DAEMON;
  if (env) return resolve(env);
  const p = join(repoRoot(), 'build', 'daemon', 'reseoliod');
  return existsSync(p) ? p : undefined;
}

/** Wait until cond() is true, polling; fails after ms. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
