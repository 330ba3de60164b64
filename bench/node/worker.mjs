// The Node benchmarks' worker process: runs bench:node:noop, whose result is the time (µs on
// the host's monotonic clock) at which it started. Says "ready" once registered; stops on
// SIGTERM. Usage: node worker.mjs SOCKET CONCURRENCY
import { FN, loadClient, nowUs } from './common.mjs';

const [socket, concurrency] = process.argv.slice(2);
const { Reseolio } = await loadClient();
const r = new Reseolio({ socket, autoStart: false, workerConcurrency: Number(concurrency) });
r.durable(FN, async (_t0) => nowUs());
await r.start();
process.stdout.write('ready\n');
process.once('SIGTERM', async () => {
  await r.stop({ timeoutMs: 5000 });
  process.exit(0);
});
