// Node side of rsbench-throughput: jobs/s through enqueue -> run -> committed result, every
// result awaited, --window jobs in flight (each lane: enqueue, await the result, next), the
// worker in another process. Prints one JSON object.
// Usage: node throughput.mjs --socket S [--jobs N] [--window N] [--concurrency N] [--daemon-pid P]
import { FN, busyCpus, loadClient, nowNs, nowUs, parseArgs, startWorker, stopWorker, statusKb, summary } from './common.mjs';

const o = parseArgs(process.argv.slice(2), {
  socket: '', jobs: 20000, window: 1000, concurrency: 256, warmup: 2000, 'daemon-pid': 0, label: '',
});
const { Reseolio } = await loadClient();
const worker = await startWorker(o.socket, o.concurrency);
const r = new Reseolio({ socket: o.socket, autoStart: false });
await r.start();

async function run(jobs, rt) {
  let next = 0, failed = 0;
  const lane = async () => {
    while (next < jobs) {
      next++;
      const t0 = nowNs();
      try {
        const h = await r.enqueue(FN, [nowUs()]);
        await h.result(60_000);
        rt?.push(Number(nowNs() - t0));
      } catch (e) {
        if (failed++ < 5) console.error(`throughput.mjs: job failed: ${e}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.window, jobs) }, lane));
  return failed;
}

let ok = true, error;
const rt = [];
let failed = 0, warmupFailed = 0, secs = 0, rssPeak = -1, machineBusy = -1;
const pid = o['daemon-pid'];
try {
  if (o.warmup > 0) warmupFailed = await run(o.warmup);
  const sampler = pid > 0 ? setInterval(() => (rssPeak = Math.max(rssPeak, statusKb(pid, 'VmRSS'))), 20) : undefined;
  const t0 = nowNs();
  const busy = busyCpus();
  failed = await run(o.jobs, rt);
  secs = Number(nowNs() - t0) / 1e9;
  machineBusy = busy();
  clearInterval(sampler);
} catch (e) {
  ok = false;
  error = String(e);
}
await r.stop();
await stopWorker(worker);
console.log(JSON.stringify({
  client: 'node', bench: 'throughput', label: o.label, ok, ...(error ? { error } : {}),
  jobs: o.jobs, machine_busy_cpus: machineBusy, failed, warmup_failed: warmupFailed, window: o.window, concurrency: o.concurrency, warmup: o.warmup,
  seconds: Math.round(secs * 1e4) / 1e4, jobs_per_s: Math.round((o.jobs / secs) * 10) / 10,
  round_trip: summary(rt), daemon_rss_peak_kb: rssPeak, daemon_hwm_kb: pid > 0 ? statusKb(pid, 'VmHWM') : -1,
}));
process.exit(ok ? 0 : 1);
