/*
 * Parallel fan-out: a durable job that makes one durable step per item, all enqueued at once,
 * and gathers their results with Promise.all. The steps run on every worker process serving
 * their function (here one process, at most `workerConcurrency` at a time); a failed item is
 * retried on its own without redoing the others, and if the job itself is retried, its steps
 * are found again by their positions (the order of the calls): none runs twice.
 *
 *   node dist/examples/fan-out.js
 */

import { Reseolio } from 'reseolio';

async function main(): Promise<void> {
  const reseolio = new Reseolio({ storage: process.env.RESEOLIO_STORAGE, workerConcurrency: 4 });
  await reseolio.start();

  let running = 0;
  let most = 0;
  let renders = 0;
  let failedOnce = false;
  const thumbnail = reseolio.durable(
    reseolio.namespace('media', 'image', 'thumbnail'),
    async (imageId: string, width: number) => {
      most = Math.max(most, ++running);
      try {
        renders++;
        await new Promise((r) => setTimeout(r, 20)); // the work
        if (imageId === 'img-7' && !failedOnce) {
          failedOnce = true;
          throw new Error('image service busy'); // this item alone is retried
        }
        return { imageId, url: `https://cdn.example.com/${imageId}-${width}w.jpg` };
      } finally {
        running--;
      }
    },
    { timeoutMs: 10_000, initialDelayMs: 100 },
  );

  let albumAttempts = 0;
  const album = reseolio.durable(
    reseolio.namespace('media', 'album', 'thumbnails'),
    async (images: string[]) => {
      albumAttempts++;
      const handles = await Promise.all(images.map((id) => thumbnail(id, 320))); // all durable now
      const results = await Promise.all(handles.map((h) => h.result()));
      if (albumAttempts === 1) throw new Error('album store unavailable'); // the album is retried
      return results.map((r) => r.url);
    },
    { initialDelayMs: 100 },
  );

  const images = Array.from({ length: 12 }, (_, i) => `img-${i + 1}`);
  const handle = await album(images);
  const urls = await handle.result();
  const steps = await handle.steps();
  console.log(`fanned out ${steps.length} steps (positions ${steps[0]!.step}..${steps[steps.length - 1]!.step})`);
  console.log(`gathered ${urls.length} thumbnails in ${albumAttempts} album attempt(s), ${renders} render(s), at most ${most} at once; first: ${urls[0]}`);
  await reseolio.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
