/*
 * Parallel fan-out: one durable job per item, all enqueued at once, results gathered with
 * Promise.all. Jobs run on every worker process serving the function (here one process,
 * `workerConcurrency` at a time); a failed item is retried on its own without redoing the
 * others.
 *
 *   node dist/examples/fan-out.js
 */

import { Reseolio } from 'reseolio';

async function main(): Promise<void> {
  const reseolio = new Reseolio({ storage: process.env.RESEOLIO_STORAGE, workerConcurrency: 4 });
  await reseolio.start();

  let running = 0;
  let most = 0;
  const thumbnail = reseolio.durable(
    reseolio.namespace('media', 'image', 'thumbnail'),
    async (imageId: string, width: number) => {
      most = Math.max(most, ++running);
      try {
        await new Promise((r) => setTimeout(r, 20)); // the work
        return { imageId, url: `https://cdn.example.com/${imageId}-${width}w.jpg` };
      } finally {
        running--;
      }
    },
    { timeoutMs: 10_000 },
  );

  const images = Array.from({ length: 12 }, (_, i) => `img-${i + 1}`);
  const handles = await Promise.all(images.map((id) => thumbnail(id, 320))); // all durable now
  console.log(`fanned out ${handles.length} jobs (${handles[0]!.jobId}..${handles[handles.length - 1]!.jobId})`);

  const results = await Promise.all(handles.map((h) => h.result()));
  console.log(`gathered ${results.length} thumbnails, at most ${most} at once; first: ${results[0]!.url}`);
  await reseolio.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
