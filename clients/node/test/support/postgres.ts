/*
 * Real PostgreSQL for the end-to-end tests: one private cluster per test process (each test
 * file runs in a process of its own under `node --test`), one database per daemon.
 *
 * When the tests already run inside tests/harness/with-postgres (RESEOLIO_TEST_PG is set) that
 * cluster is used. Otherwise the first call starts with-postgres around a command that prints
 * the cluster's settings and then reads its stdin until EOF: the cluster lives exactly as long
 * as this process holds the pipe, so it is stopped and removed when the process exits, however
 * it exits (the kernel closes the pipe even after SIGKILL).
 */

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { repoRoot } from '../helpers';

const run = promisify(execFile);

export interface TestCluster {
  /** libpq conninfo of the cluster's `postgres` database. */
  readonly conninfo: string;
  /** A new, empty database; its conninfo. Names are unique within the cluster. */
  createDatabase(prefix: string): Promise<string>;
}

let cluster: Promise<TestCluster> | undefined;
let counter = 0;

/** The cluster of this test process (started on first use). */
export function testCluster(): Promise<TestCluster> {
  cluster ??= open().catch((e: unknown) => {
    cluster = undefined;
    throw e;
  });
  return cluster;
}

async function open(): Promise<TestCluster> {
  let conninfo = process.env.RESEOLIO_TEST_PG;
  let pgbin = process.env.RESEOLIO_TEST_PGBIN;
  if (!conninfo) ({ conninfo, pgbin } = await startCluster());
  const psql = pgbin && existsSync(join(pgbin, 'psql')) ? join(pgbin, 'psql') : 'psql';
  const base = conninfo;
  return {
    conninfo: base,
    async createDatabase(prefix: string): Promise<string> {
      const name = `n_${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 32)}_${process.pid}_${counter++}`;
      // psql runs from / so that a root-only cwd does not bother it (as root it stays root and
      // connects as the database user postgres, trust authentication on the private socket)
      await run(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', base, '-c', `CREATE DATABASE "${name}"`], { cwd: '/', timeout: 30_000 });
      return `${base.replace(/\bdbname=\S+/, '')} dbname=${name}`.replace(/\s+/g, ' ').trim();
    },
  };
}

/** Start tests/harness/with-postgres for the life of this process. */
function startCluster(): Promise<{ conninfo: string; pgbin: string }> {
  const wrapper = join(repoRoot(), 'tests', 'harness', 'with-postgres');
  const script = 'printf "%s\\n%s\\n" "$RESEOLIO_TEST_PG" "$RESEOLIO_TEST_PGBIN"; exec cat >/dev/null';
  const child = spawn(wrapper, ['bash', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error('with-postgres did not start PostgreSQL within 120 s')), 120_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(new Error(`${e.message}\n${err}`));
    };
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`with-postgres exited (${signal ?? code}) before PostgreSQL was ready`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      if (lines.length < 3) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      // Nothing here keeps the process alive: the cluster goes when the process does.
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
      resolve({ conninfo: lines[0]!, pgbin: lines[1]! });
    });
  });
}
