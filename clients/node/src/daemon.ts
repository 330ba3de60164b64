/*
 * Finding the host's daemon: the socket path rule of docs/protocol.md §1, where the reseoliod
 * binary is, and starting it on demand (detached, one per host even when many processes race).
 */

import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, dirname, join } from 'node:path';

import { ReseolioError } from './errors.js';

/** The socket path: explicit, $RESEOLIO_SOCKET, $XDG_RUNTIME_DIR/reseolio/reseolio.sock, /tmp/reseolio-$UID/reseolio.sock. */
export function resolveSocketPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.RESEOLIO_SOCKET) return env.RESEOLIO_SOCKET;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'reseolio', 'reseolio.sock');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return `/tmp/reseolio-${uid}/reseolio.sock`;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The root of this package: the nearest directory above this file with our package.json. */
function packageRoot(): string | undefined {
  let dir = __dirname;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'reseolio') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Where reseoliod is: `daemonPath`, $RESEOLIO_DAEMON, this repository's build directory
 * (`build/daemon/reseoliod` two levels above the package), then $PATH. Returns the candidates
 * that were looked at when none is executable.
 */
export function findDaemon(daemonPath?: string, env: NodeJS.ProcessEnv = process.env): { path?: string; tried: string[] } {
  const tried: string[] = [];
  const check = (p: string | undefined): string | undefined => {
    if (!p) return undefined;
    tried.push(p);
    return isExecutable(p) ? p : undefined;
  };
  if (daemonPath) return { path: check(daemonPath), tried };
  if (env.RESEOLIO_DAEMON) return { path: check(env.RESEOLIO_DAEMON), tried };
  const root = packageRoot();
  const inRepo = root && check(join(root, '..', '..', 'build', 'daemon', 'reseoliod'));
  if (inRepo) return { path: inRepo, tried };
  for (const d of (env.PATH ?? '').split(delimiter)) {
    const p = d && check(join(d, 'reseoliod'));
    if (p) return { path: p, tried };
  }
  return { tried };
}

/** Whether something accepts connections on the socket (a connect, closed at once). */
export function probeSocket(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ path: socketPath });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll the socket with backoff until it accepts or the deadline passes. Startup only. */
async function waitForSocket(socketPath: string, deadline: number, gone?: () => boolean): Promise<boolean> {
  let delay = 5;
  for (;;) {
    if (await probeSocket(socketPath)) return true;
    if (Date.now() >= deadline || gone?.()) return false;
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 200);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the start lock (O_EXCL create); false when another live process holds it. */
function tryLock(lockPath: string, staleMs: number): boolean {
  for (let round = 0; round < 2; round++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // Held: by a live starter, or left behind by one that died (then it is removed once).
    try {
      const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      const age = Date.now() - statSync(lockPath).mtimeMs;
      // an empty file is a holder between its create and its write: held, unless very old
      const holderGone = pid > 0 ? !pidAlive(pid) : false;
      if (!holderGone && age < staleMs) return false;
      unlinkSync(lockPath);
    } catch {
      // it vanished meanwhile: try again
    }
  }
  return false;
}

function logTail(logPath: string): string {
  try {
    const text = readFileSync(logPath, 'utf8');
    return text.split('\n').slice(-12).join('\n').trim();
  } catch {
    return '';
  }
}

export interface StartOptions {
  socketPath: string;
  daemonPath?: string | undefined;
  /** Passed to the daemon as RESEOLIO_STORAGE (an environment variable: argv is public). */
  storage?: string | undefined;
  /** How long to wait for the daemon to answer. */
  timeoutMs?: number | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * Make sure a daemon answers on socketPath, starting one when none does. Many processes may
 * call this at once: the one that creates `SOCKET.start-lock` spawns reseoliod (detached, its
 * output appended to `reseoliod.log` beside the socket), the others wait for the socket.
 * reseoliod itself holds a lock per socket path, so even a lost race here leaves one daemon.
 * Resolves with the pid of the daemon this call started, or undefined when it did not start one.
 */
export async function ensureDaemon(opts: StartOptions): Promise<number | undefined> {
  const { socketPath } = opts;
  const env = opts.env ?? process.env;
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  if (await probeSocket(socketPath)) return undefined;

  const found = findDaemon(opts.daemonPath, env);
  if (!found.path) {
    throw new ReseolioError(
      'unavailable',
      `no reseoliod answers on ${socketPath} and none was found to start (looked at: ${found.tried.join(', ') || 'nothing'}); ` +
        'set the daemonPath option or RESEOLIO_DAEMON, or start reseoliod yourself',
    );
  }
  const dir = dirname(socketPath);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ReseolioError('unavailable', `cannot create the socket directory ${dir}: ${(e as Error).message}`);
    }
  }
  const lockPath = `${socketPath}.start-lock`;
  const logPath = join(dir, 'reseoliod.log');

  while (Date.now() < deadline) {
    if (!tryLock(lockPath, (opts.timeoutMs ?? 10_000) + 5000)) {
      // someone else is starting it: wait for the socket, or for their lock to go
      if (await waitForSocket(socketPath, deadline, () => !existsSync(lockPath))) return undefined;
      continue;
    }
    try {
      if (await probeSocket(socketPath)) return undefined; // started between our probe and our lock
      const log = openSync(logPath, 'a', 0o600);
      let exited: string | undefined;
      let child;
      try {
        const childEnv: NodeJS.ProcessEnv = { ...env, RESEOLIO_SOCKET: socketPath };
        if (opts.storage !== undefined) childEnv.RESEOLIO_STORAGE = opts.storage;
        child = spawn(found.path, [], { detached: true, stdio: ['ignore', log, log], env: childEnv });
      } finally {
        closeSync(log);
      }
      child.once('exit', (code, signal) => {
        exited = signal ? `signal ${signal}` : `status ${code}`;
      });
      child.once('error', (e) => {
        exited = e.message;
      });
      child.unref();
      if (await waitForSocket(socketPath, deadline, () => exited !== undefined)) {
        return exited === undefined ? child.pid : undefined; // else another daemon won the socket
      }
      // It exited: maybe because another daemon won the socket's own lock; else a real failure.
      if (exited !== undefined && (await waitForSocket(socketPath, Math.min(deadline, Date.now() + 500)))) return undefined;
      if (exited === undefined) child.kill('SIGTERM');
      throw new ReseolioError(
        'unavailable',
        `reseoliod (${found.path}) ${exited ? `exited with ${exited}` : 'did not answer in time'} on ${socketPath}` +
          `; the end of ${logPath}:\n${logTail(logPath)}`,
      );
    } finally {
      try {
        unlinkSync(lockPath);
      } catch {
        // already gone
      }
    }
  }
  throw new ReseolioError('unavailable', `no reseoliod answered on ${socketPath} in time`);
}
