/*
 * Idempotent payment (seed README, "Idempotency"): the same idempotency key always names the
 * same job, so a double click, a client retry or a replayed webhook charges the card once.
 * Also: a transient failure retried with backoff, and a permanent one (NonRetryableError) that
 * fails the job at once, its error surfacing in result().
 *
 *   node dist/examples/idempotent-payment.js
 */

import { JobFailedError, NonRetryableError, Reseolio } from 'reseolio';

async function main(): Promise<void> {
  const reseolio = new Reseolio({ storage: process.env.RESEOLIO_STORAGE });
  await reseolio.start();

  const charges: string[] = [];
  let flaky = true;
  const processPayment = reseolio.durable(
    reseolio.namespace('billing', 'payment', 'charge'),
    async (orderId: string, amountCents: number) => {
      if (amountCents <= 0) throw new NonRetryableError(`invalid amount ${amountCents}`);
      if (flaky) {
        flaky = false;
        throw new Error('gateway unavailable'); // transient: retried after initialDelayMs
      }
      charges.push(orderId);
      return { orderId, amountCents, chargeId: `ch_${orderId}` };
    },
    { maxAttempts: 5, backoff: 'exponential', initialDelayMs: 100 },
  );

  // Order ids are unique per run: a key names its job for good, so a second run of this
  // script against the same database would otherwise just find the first run's job.
  const run = Date.now().toString(36);
  const orderId = `order-42-${run}`;
  // The user clicks "Pay" three times.
  const clicks = [];
  for (let i = 0; i < 3; i++) {
    clicks.push(await processPayment(orderId, 1999, { idempotencyKey: `charge-${orderId}` }));
  }
  for (const h of clicks) console.log(`click -> job ${h.jobId}${h.deduplicated ? ' (the same job)' : ''}`);

  const receipt = await clicks[0]!.result();
  console.log(`charged once: ${JSON.stringify(receipt)}; card charged ${charges.length} time(s)`);

  const bad = await processPayment(`order-43-${run}`, 0, { idempotencyKey: `charge-order-43-${run}` });
  try {
    await bad.result();
  } catch (e) {
    if (!(e instanceof JobFailedError)) throw e;
    console.log(`order-43-${run}: job ${e.jobId} ${e.status} after ${e.attempt} attempt(s): ${e.jobError}`);
  }
  await reseolio.stop();
  if (charges.length !== 1) throw new Error(`expected one charge, got ${charges.length}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
