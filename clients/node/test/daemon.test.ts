/*
 * The client against the REAL reseoliod binary ($RESEOLIO_DAEMON, else build/daemon/reseoliod):
 * the handshake, storage identity, frame limit, auto-start (one daemon for many racing
 * processes) and reconnection after the daemon is killed. Job requests wait for the engine.
 */

import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { Connection } from '../src/connection';
import { Reseolio, ReseolioError } from '../src/index';
import { daemonBinary, tempSocketDir, waitFor } from './helpers';

const binary = daemonBinary();
const requireBinary = (): string => {
  if (!binary) throw new Error('reseoliod not found: build it (meson setup build && ninja -C build) or set RESEOLIO_DAEMON');
  return binary;
};

let tmp: ReturnType<typeof tempSocketDir>;
const children: ChildProcess[] = [];
const clients: Reseolio[] = [];

/** Pids of the reseoliod processes serving socket (found by their environment or argv). */
function daemonsServing(socket: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readlinkSync(`/proc/${d}/exe`).endsWith('/reseoliod')) continue;
      const env = readFileSync(`/proc/${d}/environ`, 'utf8').split('\0');
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (env.includes(`RESEOLIO_SOCKET=${socket}`) || argv.includes(socket)) out.push(Number(d));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Start reseoliod on the socket by hand and wait for its ready line. */
async function startDaemon(socket: string, ...args: string[]): Promise<ChildProcess> {
  const child = spawn(requireBinary(), ['--socket', socket, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(() => log.includes('ready:') || child.exitCode !== null, 5000, 'reseoliod ready');
  assert.ok(log.includes('ready:'), log);
  return child;
}

function client(opts: ConstructorParameters<typeof Reseolio>[0]): Reseolio {
  const r = new Reseolio({ socket: tmp.socket, ...opts });
  clients.push(r);
  return r;
}

beforeEach(() => {
  tmp = tempSocketDir();
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop({ timeoutMs: 100 });
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const pid of daemonsServing(tmp.socket)) process.kill(pid, 'SIGKILL');
  tmp.cleanup();
});

describe('handshake with the real reseoliod', () => {
  test('HELLO → WELCOME, then PING → PONG', async () => {
    await startDaemon(tmp.socket);
    const conn = await Connection.open({ socketPath: tmp.socket, clientName: 'reseolio-node-test/0' });
    const w = conn.welcome!;
    assert.equal(w.version, 1);
    assert.match(w.server, /^reseoliod\//);
    assert.equal(w.max_frame, 1048576);
    assert.equal(w.storage, 'private');
    assert.match(w.node, /^[0-9a-f]+$/);
    const pong = await conn.request('PING', {});
    assert.equal(pong.type, 'PONG');
    conn.close();
  });

  test('Reseolio.start() with autoStart off connects to a running daemon', async () => {
    await startDaemon(tmp.socket);
    const r = client({ autoStart: false });
    await r.start();
    assert.ok((await r.ping()) >= 0);
    assert.equal(r.daemon!.storage, 'private');
  });

  test('a daemon serving other storage is a clear error; the same storage written differently is fine', async () => {
    await startDaemon(tmp.socket, '--storage', 'postgresql://app@db:5432/app');
    const wrong = client({ autoStart: false, storage: 'postgresql://app:secret@db:5432/other' });
    await assert.rejects(wrong.start(), (e: ReseolioError) => {
      assert.equal(e.code, 'storage_mismatch');
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
    const same = client({ autoStart: false, storage: 'host=db port=5432 dbname=app user=app password=pw' });
    await same.start();
    assert.equal(same.daemon!.storage, 'postgresql://app@db:5432/app');
  });

  test("the daemon's max_frame limits what the client sends", async () => {
    await startDaemon(tmp.socket, '--max-frame', '4096');
    const r = client({ autoStart: false });
    await r.start();
    assert.equal(r.daemon!.maxFrame, 4096);
    await assert.rejects(r.enqueue('big:args', ['x'.repeat(5000)]), (e: ReseolioError) => e.code === 'frame_too_large');
    assert.ok((await r.ping()) >= 0); // nothing was sent; the session is fine
  });

  test('with autoStart off and no daemon, start() says so', async () => {
    const r = client({ autoStart: false });
    await assert.rejects(r.start(), (e: ReseolioError) => e.code === 'unavailable' && /autoStart is off/.test(e.message));
  });
});

describe('auto-start', () => {
  test('starts reseoliod detached, logging beside the socket', async () => {
    const r = client({ daemonPath: requireBinary() });
    let started: number | undefined;
    r.on('daemon:started', (pid) => (started = pid));
    await r.start();
    assert.ok(started);
    assert.deepEqual(daemonsServing(tmp.socket), [started]);
    assert.ok(existsSync(join(tmp.dir, 'reseoliod.log')));
    assert.ok(!existsSync(`${tmp.socket}.start-lock`));
    await r.stop();
    // detached: it outlives the client
    assert.deepEqual(daemonsServing(tmp.socket), [started]);
  });

  test('processes starting at once share one daemon', async () => {
    const n = 4;
    const fixture = join(__dirname, 'fixtures', 'start-client.js');
    const startAt = String(Date.now() + 400);
    const run = promisify(execFile);
    const outs = await Promise.all(
      Array.from({ length: n }, () => run(process.execPath, [fixture, tmp.socket, requireBinary(), startAt], { timeout: 20000 })),
    );
    const seen = outs.map((o) => JSON.parse(o.stdout.trim()) as { node: string; started: number | null });
    assert.equal(new Set(seen.map((s) => s.node)).size, 1, JSON.stringify(seen));
    const starters = seen.filter((s) => s.started !== null);
    assert.equal(starters.length, 1, JSON.stringify(seen));
    assert.deepEqual(daemonsServing(tmp.socket), [starters[0]!.started]);
  });

  test('a daemon that fails to start is reported with its log', async () => {
    const r = client({ daemonPath: '/bin/false', connectTimeoutMs: 3000 });
    await assert.rejects(r.start(), (e: ReseolioError) => e.code === 'unavailable' && /exited with status 1/.test(e.message));
  });

  test('no binary to start is a clear error', async () => {
    const r = client({ daemonPath: join(tmp.dir, 'no-such-reseoliod') });
    await assert.rejects(r.start(), (e: ReseolioError) => e.code === 'unavailable' && /none was found to start/.test(e.message));
  });

  test('after the daemon is killed, the client starts a new one and reconnects', async () => {
    const r = client({ daemonPath: requireBinary() });
    await r.start();
    const first = r.daemon!.node;
    const [pid] = daemonsServing(tmp.socket);
    const back = new Promise<void>((res) => r.once('reconnected', res));
    process.kill(pid!, 'SIGKILL');
    await back;
    assert.notEqual(r.daemon!.node, first);
    assert.ok((await r.ping()) >= 0);
  });
});
