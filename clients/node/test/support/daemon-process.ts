/*
 * A real reseoliod for the end-to-end tests: started on a private socket against a given
 * database, its log kept (and readable as it grows), stopped or killed on demand. Readiness is
 * an event (a line of its log), never a sleep.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

import { daemonBinary } from '../helpers';
import { withTimeout } from './wait';

/** Every daemon a test process started (or saw started), killed at its exit whatever happens. */
const live = new Set<number>();
process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Kill this pid when the test process exits (for daemons a client auto-started). */
export function killAtExit(pid: number): void {
  live.add(pid);
}

export function requireDaemonBinary(): string {
  const b = daemonBinary();
  if (!b) throw new Error('reseoliod not found: build it (meson setup build && meson compile -C build) or set RESEOLIO_DAEMON');
  return b;
}

/** Pids of the reseoliod processes serving socket (found by their environment or argv). */
export function daemonsServing(socket: string): number[] {
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

export interface DaemonOptions {
  socket: string;
  /** --storage; omitted: whatever args/env say. */
  storage?: string;
  /** More flags. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One reseoliod process. */
export class DaemonProcess {
  private child: ChildProcess;
  private text = '';
  private readonly watchers = new Set<() => void>();
  private stopping: Promise<void> | undefined;
  readonly exited: Promise<Exit>;

  private constructor(readonly opts: DaemonOptions) {
    const args = ['--socket', opts.socket, '--log-level', 'debug', ...(opts.storage ? ['--storage', opts.storage] : []), ...(opts.args ?? [])];
    this.child = spawn(requireDaemonBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
    const pid = this.child.pid!;
    live.add(pid);
    this.child.stderr!.on('data', (d: Buffer) => {
      this.text += d.toString();
      for (const w of [...this.watchers]) w();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        live.delete(pid);
        for (const w of [...this.watchers]) w();
        resolve({ code, signal });
      }),
    );
  }

  /** Start reseoliod and wait until it listens (and, by default, until its job engine is ready). */
  static async start(opts: DaemonOptions, { engine = true, timeoutMs = 30_000 } = {}): Promise<DaemonProcess> {
    const d = new DaemonProcess(opts);
    await d.waitForLog(engine ? /job engine ready/ : /ready: listening/, timeoutMs);
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything it logged so far. */
  get log(): string {
    return this.text;
  }

  /** The last lines of its log, for assertion messages. */
  tail(n = 40): string {
    return this.text.split('\n').slice(-n).join('\n');
  }

  /**
   * Resolve with the first log line matching re, from offset on (default: the whole log, so a
   * line already written counts); reject when the daemon exits first or after timeoutMs.
   */
  waitForLog(re: RegExp, timeoutMs = 20_000, offset = 0): Promise<string> {
    return withTimeout(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = this.text.slice(offset).split('\n').find((l) => re.test(l));
          if (line !== undefined) {
            this.watchers.delete(check);
            resolve(line);
          } else if (!this.running) {
            this.watchers.delete(check);
            reject(new Error(`reseoliod exited (${this.child.signalCode ?? this.child.exitCode}) before logging ${re}:\n${this.tail()}`));
          }
        };
        this.watchers.add(check);
        check();
      }),
      timeoutMs,
      () => `reseoliod to log ${re}; its log ends:\n${this.tail()}`,
    );
  }

  /** Send a signal and wait for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 30_000): Promise<Exit> {
    if (this.running) this.child.kill(signal);
    return withTimeout(this.exited, timeoutMs, () => `reseoliod to exit on ${signal}:\n${this.tail()}`);
  }

  /**
   * Graceful stop (SIGTERM, once: a second stop() waits for the first); throws unless it exits
   * 0 (a sanitizer finding exits otherwise).
   */
  stop(timeoutMs = 60_000): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.running) return;
      const exit = await this.kill('SIGTERM', timeoutMs);
      if (exit.code !== 0) throw new Error(`reseoliod did not exit 0 on SIGTERM (${exit.signal ?? exit.code}):\n${this.tail(80)}`);
    })();
    return this.stopping;
  }

  /** A new reseoliod with the same settings (after this one was stopped or killed). */
  restart(o?: { engine?: boolean; timeoutMs?: number }): Promise<DaemonProcess> {
    return DaemonProcess.start(this.opts, o);
  }
}
