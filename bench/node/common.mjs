// What the Node benchmarks share: the clock, statistics, arguments, the worker process.
// The clock is process.hrtime (CLOCK_MONOTONIC, one clock for the whole host), so the time a
// worker process stamps can be subtracted from the producer's.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FN = 'bench:node:noop';

/** The client package: $RESEOLIO_NODE_CLIENT, else clients/node of this tree (built). */
export async function loadClient() {
  const p = process.env.RESEOLIO_NODE_CLIENT ?? path.join(here, '../../clients/node/dist/esm/index.mjs');
  return import(p);
}

export const nowNs = () => process.hrtime.bigint();
/** Microseconds on the same clock, as a number (safe for 285 years of uptime). */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** --name value pairs into an object, numbers where they parse. */
export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in defaults)) throw new Error(`unknown option --${k}`);
    const v = argv[i + 1];
    out[k] = typeof defaults[k] === 'number' ? Number(v) : v;
  }
  return out;
}

/** p50/p95/p99/mean/max in ms of samples in ns (Numbers), nearest rank; the C format. */
export function summary(samples) {
  if (samples.length === 0) return { n: 0 };
  const v = Float64Array.from(samples).sort();
  const pct = (p) => v[Math.min(v.length, Math.max(1, Math.ceil(p * v.length))) - 1] / 1e6;
  const round = (x) => Math.round(x * 1e4) / 1e4;
  const sum = v.reduce((a, b) => a + b, 0);
  return {
    n: v.length,
    p50_ms: round(pct(0.5)),
    p95_ms: round(pct(0.95)),
    p99_ms: round(pct(0.99)),
    mean_ms: round(sum / v.length / 1e6),
    max_ms: round(v[v.length - 1] / 1e6),
  };
}

/** VmRSS/VmHWM of a process in kB, or -1. */
export function statusKb(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** Busy clock ticks of the whole machine (/proc/stat, all but idle and iowait). */
function busyTicks() {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

/** A meter of how many CPUs the whole machine kept busy since it was made (100 ticks/s). */
export function busyCpus() {
  const t0 = busyTicks(), s0 = process.hrtime.bigint();
  return () => Math.round(((busyTicks() - t0) / 100 / (Number(process.hrtime.bigint() - s0) / 1e9)) * 100) / 100;
}

/** Start worker.mjs in its own process; resolves once it is registered with the daemon. */
export function startWorker(socket, concurrency) {
  const child = spawn(process.execPath, [path.join(here, 'worker.mjs'), socket, String(concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (l) => (l === 'ready' ? resolve(child) : reject(new Error(`worker said ${l}`))));
    child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before it was ready`)));
  });
}

/** SIGTERM the worker and wait for it to exit. */
export function stopWorker(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}
