// Node side of rsbench-latency: one job at a time, enqueue (call -> durable), scheduling lag
// (call -> the handler starts in the worker process), round trip (call -> result back).
// Prints one JSON object. Usage: node latency.mjs --socket S [--samples N] [--warmup N]
import { FN, busyCpus, loadClient, nowNs, nowUs, parseArgs, startWorker, stopWorker, summary } from './common.mjs';

const o = parseArgs(process.argv.slice(2), { socket: '', samples: 1000, warmup: 200, concurrency: 1, label: '' });
const { Reseolio } = await loadClient();
const worker = await startWorker(o.socket, o.concurrency);
const r = new Reseolio({ socket: o.socket, autoStart: false });
await r.start();
const enq = [], lag = [], rt = [];
let failed = 0, ok = true, error;
const busy = busyCpus();
try {
  for (let i = 0; i < o.warmup + o.samples; i++) {
    const t0 = nowNs();
    const h = await r.enqueue(FN, [nowUs()]);
    const t1 = nowNs();
    let started;
    try {
      started = await h.result(30_000);
    } catch (e) {
      failed++;
      continue;
    }
    const t3 = nowNs();
    if (i < o.warmup) continue;
    enq.push(Number(t1 - t0));
    lag.push(started * 1000 - Number(t0));
    rt.push(Number(t3 - t0));
  }
} catch (e) {
  ok = false;
  error = String(e);
}
const machineBusy = busy();
await r.stop();
await stopWorker(worker);
console.log(JSON.stringify({
  client: 'node', bench: 'latency', label: o.label, ok, ...(error ? { error } : {}), failed,
  warmup: o.warmup, concurrency: o.concurrency, machine_busy_cpus: machineBusy,
  enqueue: summary(enq), lag: summary(lag), round_trip: summary(rt),
}));
process.exit(ok ? 0 : 1);
