/*
 * END TO END, real reseoliod + PostgreSQL: two application processes on one host share one
 * daemon that neither was told to start. Both start their client at the same moment; exactly
 * one of them starts reseoliod (detached), the other connects to it; each calls a function
 * that only the other process serves, and gets its result.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';

import { tempSocketDir } from './helpers';
import { daemonsServing, killAtExit, requireDaemonBinary } from './support/daemon-process';
import { testCluster } from './support/postgres';
import { withTimeout } from './support/wait';

interface Proc {
  child: ChildProcess;
  lines: string[];
  line(n: number): Promise<string>;
  exit: Promise<number | null>;
  stderr: () => string;
}

function runFixture(args: string[]): Proc {
  const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'shared-worker.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waits: (() => void)[] = [];
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waits.splice(0)) w();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    for (const w of waits.splice(0)) w();
    resolve(code);
  }));
  const line = (n: number) =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          if (lines.length > n) resolve(lines[n]!);
          else if (child.exitCode !== null) reject(new Error(`fixture exited ${child.exitCode}: ${err}`));
          else waits.push(check);
        };
        check();
      }),
      60_000,
      () => `line ${n} of the fixture (stderr: ${err})`,
    );
  return { child, lines, line, exit, stderr: () => err };
}

describe('two processes, one auto-started daemon, end to end', { timeout: 120_000 }, () => {
  test('one of them starts reseoliod; each gets the result of a job the other one ran', async () => {
    const pg = await testCluster();
    const storage = await pg.createDatabase('processes');
    const tmp = tempSocketDir('rsn-proc-');
    const procs = [
      runFixture([tmp.socket, requireDaemonBinary(), storage, 'a', 'b']),
      runFixture([tmp.socket, requireDaemonBinary(), storage, 'b', 'a']),
    ];
    try {
      await Promise.all(procs.map((p) => p.line(0)));
      for (const p of procs) p.child.stdin!.write('go\n');
      const [a, b] = (await Promise.all(procs.map((p) => p.line(1)))).map(
        (l) => JSON.parse(l) as { node: string; started: number | null; result: { servedBy: string; pid: number; from: string } },
      );
      for (const s of [a!, b!]) if (s.started !== null) killAtExit(s.started);
      assert.equal(a!.node, b!.node, 'both talk to the same daemon');
      const starters = [a!, b!].filter((s) => s.started !== null);
      assert.equal(starters.length, 1, `exactly one process started the daemon: ${JSON.stringify([a, b])}`);
      assert.deepEqual(daemonsServing(tmp.socket), [starters[0]!.started]);
      assert.deepEqual(a!.result, { servedBy: 'b', pid: procs[1]!.child.pid, from: 'a' });
      assert.deepEqual(b!.result, { servedBy: 'a', pid: procs[0]!.child.pid, from: 'b' });
      for (const p of procs) p.child.stdin!.end();
      assert.deepEqual(await withTimeout(Promise.all(procs.map((p) => p.exit)), 30_000, 'the processes to stop'), [0, 0]);
      // the daemon outlives both of them
      assert.deepEqual(daemonsServing(tmp.socket), [starters[0]!.started]);
    } finally {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      for (const pid of daemonsServing(tmp.socket)) process.kill(pid, 'SIGTERM');
      tmp.cleanup();
    }
  });
});
