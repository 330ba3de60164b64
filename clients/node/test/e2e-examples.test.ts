/*
 * END TO END: every program in examples/ (compiled to dist/examples/ by `npm run
 * build:examples`) runs against the real reseoliod and PostgreSQL and exits 0, saying what
 * it should. The quick start also runs with no daemon up: the client starts one itself.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

import { repoRoot, tempSocketDir } from './helpers';
import { daemonsServing, killAtExit, requireDaemonBinary } from './support/daemon-process';
import { useEnv } from './support/e2e';

const run = promisify(execFile);
const examples = join(repoRoot(), 'clients', 'node', 'dist', 'examples');

async function example(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [join(examples, file)], { env: { ...process.env, ...env }, timeout: 60_000 });
    return stdout;
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    assert.fail(`${file} exited ${x.code}\n--- stdout\n${x.stdout}\n--- stderr\n${x.stderr}`);
  }
}

describe('examples, end to end', { timeout: 180_000 }, () => {
  const env = useEnv('examples');
  const vars = () => ({ RESEOLIO_SOCKET: env.socket, RESEOLIO_STORAGE: env.storage });

  test('quickstart.js: the seed quick start prints the durable function’s result', async () => {
    const out = await example('quickstart.js', vars());
    assert.match(out, /-> job \d+, committed to PostgreSQL/);
    assert.match(out, /handle\.result\(\) -> \{"sent":true\}/);
  });

  test('fire-and-forget.js: the call returns, the email is sent by the worker', async () => {
    const out = await example('fire-and-forget.js', vars());
    // the worker may send it before the caller prints that it was queued: both lines, any order
    const id = /welcome email queued as job (\d+)/.exec(out)?.[1];
    assert.ok(id, out);
    assert.match(out, /"Welcome!" sent to user@example.com/);
    assert.match(out, new RegExp(`job ${id}: success\\n$`));
  });

  test('saga.js: three steps in order with one slot; the retried orchestrator re-runs only the failed step', async () => {
    const out = await example('saga.js', vars());
    assert.match(out, /orders:payment:charge attempt 1 failed \(Error: payment gateway timed out\); retrying/);
    assert.match(out, /orders:fulfillment:process attempt 1 failed \(JobFailedError: job \d+ failed after 1 attempt\(s\): carrier unavailable\); retrying/);
    assert.match(out, /charged order-[\s\S]*reserved the items[\s\S]*created the shipment/);
    assert.match(out, /result: \{"status":"fulfilled","paymentId":"pay_order-\w+","trackingNumber":"TRACK-order-\w+"\}/);
    assert.match(out, /step 0: orders:payment:charge, success after 2 attempt\(s\)\n.*step 1: orders:inventory:reserve, success after 1 attempt\(s\)\n.*step 2: orders:shipping:create, success/);
    assert.match(out, /charged 1 time\(s\), reserved 1 time\(s\), shipping called 2 time\(s\)/);
  });

  test('fan-out.js: twelve steps at once, at most workerConcurrency running; the retried job re-runs none', async () => {
    const out = await example('fan-out.js', vars());
    assert.match(out, /fanned out 12 steps \(positions 0\.\.11\)/);
    assert.match(out, /gathered 12 thumbnails in 2 album attempt\(s\), 13 render\(s\)/);
    const most = Number(/at most (\d+) at once/.exec(out)?.[1]);
    assert.ok(most >= 1 && most <= 4, out);
  });

  test('idempotent-payment.js: three clicks, one job, one charge; a permanent failure surfaces in result()', async () => {
    const out = await example('idempotent-payment.js', vars());
    const jobs = [...out.matchAll(/click -> job (\d+)/g)].map((m) => m[1]);
    assert.equal(jobs.length, 3);
    assert.equal(new Set(jobs).size, 1);
    assert.match(out, /card charged 1 time\(s\)/);
    assert.match(out, /dead after 1 attempt\(s\): NonRetryableError: invalid amount 0/);
  });

  test('quickstart.js with no daemon running: the client starts reseoliod itself', async () => {
    const tmp = tempSocketDir('rsn-ex-');
    try {
      const out = await example('quickstart.js', { RESEOLIO_SOCKET: tmp.socket, RESEOLIO_STORAGE: env.storage, RESEOLIO_DAEMON: requireDaemonBinary() });
      assert.match(out, /handle\.result\(\) -> \{"sent":true\}/);
      const daemons = daemonsServing(tmp.socket);
      daemons.forEach(killAtExit);
      assert.equal(daemons.length, 1, 'the daemon it started outlives it');
    } finally {
      for (const pid of daemonsServing(tmp.socket)) process.kill(pid, 'SIGTERM');
      tmp.cleanup();
    }
  });
});
