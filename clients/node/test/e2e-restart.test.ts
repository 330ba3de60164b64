/*
 * END TO END, real reseoliod + PostgreSQL: the daemon goes away and comes back. A pending
 * result() keeps waiting across a SIGKILL and a new start (by hand, or by the client itself
 * with autoStart), and across a graceful stop; a job that was running when the daemon died
 * is run again by the next one; a job that finishes during the daemon's graceful stop is
 * recorded.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AbandonedError, Reseolio } from '../src/index';
import { tempSocketDir } from './helpers';
import { daemonsServing, killAtExit, requireDaemonBinary } from './support/daemon-process';
import { startEnv } from './support/e2e';
import { testCluster } from './support/postgres';
import { deferred, firstEvent, nextEvent, withTimeout } from './support/wait';

describe('daemon restarts, end to end', { timeout: 180_000 }, () => {
  test('result() survives SIGKILL of the daemon and a new start; workers register again', async () => {
    const env = await startEnv('restart_kill');
    try {
      const name = env.name('restart:pending');
      const producer = env.client();
      await producer.start();
      const h = await producer.enqueue(name, ['survives']);
      const result = h.result();
      await producer.ping(); // the AWAIT was read before this PING
      const gone = nextEvent(producer, 'disconnected');
      const back = nextEvent(producer, 'reconnected', 60_000);
      const firstNode = producer.daemon!.node;
      await env.daemon.kill('SIGKILL');
      await gone;
      env.daemon = await env.daemon.restart();
      await back;
      assert.notEqual(producer.daemon!.node, firstNode);
      // a worker for it arrives only now, on the new daemon
      const worker = env.client();
      worker.durable(name, async (s: string) => `${s} a SIGKILL`);
      await worker.start();
      assert.equal(await withTimeout(result, 30_000, 'the pending result()'), 'survives a SIGKILL');
    } finally {
      await env.close();
    }
  });

  test('a job running when the daemon is SIGKILLed is run again once the next daemon reclaims it', async () => {
    // The next daemon (a new node) takes the job back once the dead node has been silent for
    // the lease (--lease-ms, 30 s by default; short here), at its next sweep (--heartbeat-ms).
    const env = await startEnv('restart_running', ['--heartbeat-ms', '200', '--lease-ms', '1500']);
    try {
      const name = env.name('restart:running');
      const worker = env.client();
      const running = deferred();
      let firstReason: unknown;
      worker.durable(name, async () => {
        const { attempt, signal } = Reseolio.currentJob()!;
        if (attempt === 1) {
          running.resolve();
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          firstReason = signal.reason;
          throw signal.reason;
        }
        return `done at attempt ${attempt}`;
      }, { timeoutMs: 20_000, initialDelayMs: 10, jitter: 0 });
      await worker.start();
      const h = await worker.enqueue(name, []);
      const result = h.result();
      await withTimeout(running.promise, 20_000, 'attempt 1 to start');
      const back = nextEvent(worker, 'reconnected', 60_000);
      await env.daemon.kill('SIGKILL');
      env.daemon = await env.daemon.restart();
      await back;
      assert.ok(firstReason instanceof AbandonedError && firstReason.reason === 'disconnected', String(firstReason));
      assert.match(String(await withTimeout(result, 60_000, 'the job to be reclaimed and run again')), /^done at attempt [2-9]$/);
    } finally {
      await env.close();
    }
  });

  test('result() survives a graceful stop (SIGTERM) and a new start', async () => {
    const env = await startEnv('restart_term');
    try {
      const name = env.name('restart:term');
      const producer = env.client();
      await producer.start();
      const h = await producer.enqueue(name, [2]);
      const result = h.result();
      await producer.ping();
      const back = nextEvent(producer, 'reconnected', 60_000);
      await env.daemon.stop();
      env.daemon = await env.daemon.restart();
      await back;
      const worker = env.client();
      worker.durable(name, async (x: number) => x * 21);
      await worker.start();
      assert.equal(await withTimeout(result, 30_000, 'the pending result()'), 42);
    } finally {
      await env.close();
    }
  });

  // The ACK that frees the last slot ends the grace early; the release of this node's jobs
  // must reach PostgreSQL after that ACK's batch, or the finished job would run again.
  test('a job that finishes during the daemon’s graceful stop is recorded', async () => {
    const env = await startEnv('restart_grace', ['--shutdown-grace-ms', '20000']);
    try {
      const name = env.name('restart:grace');
      const worker = env.client();
      const running = deferred();
      const release = deferred();
      worker.durable(name, async () => {
        running.resolve();
        await release.promise;
        return 'finished in the grace';
      });
      await worker.start();
      const h = await worker.enqueue(name, []);
      await withTimeout(running.promise, 20_000, 'the job to start');
      const outcome = firstEvent(worker, ['job:success', 'job:ack-failed']).then(([ev, a]) => (ev === 'job:success' ? 'recorded' : `ACK failed: ${String(a[1])}`));
      const offset = env.daemon.log.length;
      const exiting = env.daemon.stop();
      await env.daemon.waitForLog(/stop: no more claims/, 20_000, offset);
      release.resolve();
      assert.equal(await outcome, 'recorded', env.daemon.tail(20));
      await exiting;
      env.daemon = await env.daemon.restart();
      const observer = env.client();
      await observer.start();
      const d = await observer.getJob(h.jobId);
      assert.equal(d.status, 'success');
      assert.equal(d.result, 'finished in the grace');
    } finally {
      await env.close();
    }
  });

  test('with autoStart the client starts the daemon again itself, and result() resolves', async () => {
    const pg = await testCluster();
    const storage = await pg.createDatabase('restart_auto');
    const tmp = tempSocketDir('rsn-auto-');
    const r = new Reseolio({ socket: tmp.socket, storage, daemonPath: requireDaemonBinary() });
    const pids: number[] = [];
    r.on('daemon:started', (pid) => {
      killAtExit(pid);
      pids.push(pid);
    });
    try {
      const ran = deferred<number>();
      const later = r.durable('restart:auto', async () => {
        ran.resolve(Reseolio.currentJob()!.attempt);
        return 'ran on the restarted daemon';
      });
      await r.start();
      assert.equal(pids.length, 1);
      const h = await later.enqueue([], { delayMs: 1500 });
      const result = h.result();
      await r.ping();
      const restarted = nextEvent(r, 'daemon:started', 30_000);
      const back = nextEvent(r, 'reconnected', 30_000);
      process.kill(pids[0]!, 'SIGKILL');
      await restarted;
      await back;
      assert.equal(pids.length, 2);
      assert.deepEqual(daemonsServing(tmp.socket), [pids[1]]);
      assert.equal(await withTimeout(result, 30_000, 'the pending result()'), 'ran on the restarted daemon');
      assert.equal(await ran.promise, 1);
    } finally {
      await r.stop({ timeoutMs: 200 });
      for (const pid of daemonsServing(tmp.socket)) process.kill(pid, 'SIGKILL');
      tmp.cleanup();
    }
  });
});
