/*
 * The end-to-end environment of a test file: a real reseoliod on a private socket against a
 * database of its own in a real PostgreSQL, and Reseolio clients pointed at it that are
 * stopped after each test. The daemon must exit 0 on SIGTERM at the end (a sanitizer finding
 * in it fails the suite).
 */

import { after, afterEach, before } from 'node:test';

import { Reseolio, type ReseolioOptions } from '../../src/index';
import { tempSocketDir } from '../helpers';
import { DaemonProcess } from './daemon-process';
import { testCluster } from './postgres';

export interface Env {
  /** The daemon's private directory (mode 0700) and its socket in it. */
  readonly dir: string;
  readonly socket: string;
  /** The conninfo of this environment's database. */
  readonly storage: string;
  /** The daemon (replaced by restart()). */
  daemon: DaemonProcess;
  /** A client of this daemon (autoStart off unless given), stopped by close() or after the test. */
  client(opts?: ReseolioOptions): Reseolio;
  /** A function name unique within the environment: `base:N`. */
  name(base: string): string;
  /** Stop the clients made so far (each with a short stop timeout). */
  stopClients(): Promise<void>;
  /** Stop the clients, the daemon (it must exit 0) and remove the directory. */
  close(): Promise<void>;
}

/** A fresh database and a daemon serving it on a private socket. */
export async function startEnv(label: string, daemonArgs: string[] = []): Promise<Env> {
  const pg = await testCluster();
  const storage = await pg.createDatabase(label);
  const tmp = tempSocketDir('rsn-e2e-');
  const daemon = await DaemonProcess.start({ socket: tmp.socket, storage, args: daemonArgs });
  const clients: Reseolio[] = [];
  let n = 0;
  const env: Env = {
    dir: tmp.dir,
    socket: tmp.socket,
    storage,
    daemon,
    client(opts: ReseolioOptions = {}) {
      const r = new Reseolio({ socket: tmp.socket, storage, autoStart: false, ...opts });
      clients.push(r);
      return r;
    },
    name(base: string) {
      return `${base}:${++n}`;
    },
    async stopClients() {
      await Promise.all(clients.splice(0).map((c) => c.stop({ timeoutMs: 200 })));
    },
    async close() {
      await env.stopClients();
      try {
        await env.daemon.stop();
      } finally {
        tmp.cleanup();
      }
    },
  };
  return env;
}

/**
 * One environment for the suite (the file or the describe() this is called in): started
 * before its first test, clients stopped after each test, everything stopped after the last.
 */
export function useEnv(label: string, daemonArgs: string[] = []): Env {
  let env: Env | undefined;
  const get = (): Env => {
    if (!env) throw new Error('the end-to-end environment is not started (call useEnv() at suite level)');
    return env;
  };
  before(async () => {
    env = await startEnv(label, daemonArgs);
  });
  afterEach(async () => {
    await env?.stopClients();
  });
  after(async () => {
    await env?.close();
  });
  return {
    get dir() {
      return get().dir;
    },
    get socket() {
      return get().socket;
    },
    get storage() {
      return get().storage;
    },
    get daemon() {
      return get().daemon;
    },
    set daemon(d: DaemonProcess) {
      get().daemon = d;
    },
    client: (o) => get().client(o),
    name: (b) => get().name(b),
    stopClients: () => get().stopClients(),
    close: () => get().close(),
  };
}
