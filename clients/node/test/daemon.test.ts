/*
 * The client against the REAL reseoliod binary ($RESEOLIO_DAEMON, else build/daemon/reseoliod):
 * the handshake, storage identity, frame limit, auto-start (one daemon for many racing
 * processes) and reconnection after the daemon is killed. Every daemon here serves a database
 * of this file's PostgreSQL (test/support/postgres.ts): none starts a private cluster.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, before, beforeEach, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { Connection } from '../src/connection';
import { Reseolio, ReseolioError } from '../src/index';
import { tempSocketDir } from './helpers';
import { DaemonProcess, daemonsServing, killAtExit, requireDaemonBinary as requireBinary } from './support/daemon-process';
import { testCluster } from './support/postgres';

let tmp: ReturnType<typeof tempSocketDir>;
let storage = '';
/** How the daemon names storage in WELCOME: postgresql://user@host:port/dbname. */
let identity = '';
const daemons: DaemonProcess[] = [];
const clients: Reseolio[] = [];

/** Start reseoliod on the socket by hand (serving this file's database unless args say otherwise). */
async function startDaemon(socket: string, ...args: string[]): Promise<DaemonProcess> {
  const own = args.includes('--storage') ? {} : { storage };
  const d = await DaemonProcess.start({ socket, ...own, args }, { engine: false });
  daemons.push(d);
  return d;
}

function client(opts: ConstructorParameters<typeof Reseolio>[0]): Reseolio {
  const r = new Reseolio({ socket: tmp.socket, storage, ...opts });
  r.on('daemon:started', killAtExit);
  clients.push(r);
  return r;
}

before(async () => {
  storage = await (await testCluster()).createDatabase('daemon');
  const host = /host=(\S+)/.exec(storage)![1];
  const db = /dbname=(\S+)/.exec(storage)![1];
  identity = `postgresql://postgres@${host}:5432/${db}`;
});

beforeEach(() => {
  tmp = tempSocketDir();
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop({ timeoutMs: 100 });
  for (const d of daemons.splice(0)) await d.kill('SIGKILL');
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
    assert.equal(w.storage, identity);
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
    assert.equal(r.daemon!.storage, identity);
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
      Array.from({ length: n }, () => run(process.execPath, [fixture, tmp.socket, requireBinary(), startAt, storage], { timeout: 20000 })),
    );
    const seen = outs.map((o) => JSON.parse(o.stdout.trim()) as { node: string; started: number | null });
    assert.equal(new Set(seen.map((s) => s.node)).size, 1, JSON.stringify(seen));
    const starters = seen.filter((s) => s.started !== null);
    for (const s of starters) killAtExit(s.started!);
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
