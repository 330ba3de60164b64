/*
 * A multi-step workflow (seed README, "Saga Pattern"): an orchestrator that chains durable
 * steps, each its own job with its own retries and its own record in PostgreSQL.
 *
 *   node dist/examples/saga.js
 *
 * Written the simple way, and correct as written: every durable call the orchestrator makes is
 * a step of its job, found again by its position when the orchestrator is retried. Here the
 * payment fails once and is retried on its own; the shipping fails and is out of attempts, so
 * the orchestrator fails and is retried: its retry finds the payment and the reservation done
 * (their results come back at once, the customer is not charged again) and runs only the
 * shipping again. One worker slot is enough: an orchestrator awaiting a step lends its slot to
 * the steps.
 */

import { Reseolio } from 'reseolio';

async function main(): Promise<void> {
  const reseolio = new Reseolio({ storage: process.env.RESEOLIO_STORAGE, workerConcurrency: 1 });
  await reseolio.start();

  const calls = { charge: 0, charged: 0, reserve: 0, ship: 0 };
  // Each step is independently durable
  const chargePayment = reseolio.durable(
    'orders:payment:charge',
    async (orderId: string) => {
      if (++calls.charge === 1) throw new Error('payment gateway timed out'); // retried by itself
      calls.charged++;
      console.log(`  charged ${orderId}`);
      return { paymentId: `pay_${orderId}` };
    },
    { maxAttempts: 3, backoff: 'exponential', initialDelayMs: 200 },
  );
  const reserveInventory = reseolio.durable('orders:inventory:reserve', async (orderId: string) => {
    calls.reserve++;
    console.log(`  reserved the items of ${orderId}`);
    return { reservationId: `res_${orderId}` };
  });
  const createShipping = reseolio.durable(
    'orders:shipping:create',
    async (orderId: string) => {
      if (++calls.ship === 1) throw new Error('carrier unavailable'); // dead: one attempt only
      console.log(`  created the shipment of ${orderId}`);
      return { trackingNumber: `TRACK-${orderId}` };
    },
    { maxAttempts: 1 },
  );

  // Orchestrator chains them
  const processOrder = reseolio.durable(
    reseolio.namespace('orders', 'fulfillment', 'process'),
    async (orderId: string) => {
      const payment = await chargePayment(orderId);
      const { paymentId } = await payment.result(); // Wait for payment

      const inventory = await reserveInventory(orderId);
      await inventory.result(); // Wait for inventory

      const shipping = await createShipping(orderId);
      const { trackingNumber } = await shipping.result(); // Wait for shipping

      return { status: 'fulfilled', paymentId, trackingNumber };
    },
    { maxAttempts: 3, initialDelayMs: 200 },
  );

  reseolio.on('job:retry', (job, err) => console.log(`  ${job.name} attempt ${job.attempt} failed (${String(err)}); retrying`));

  const orderId = `order-${Date.now().toString(36)}`;
  const handle = await processOrder(orderId);
  console.log(`${orderId} accepted as job ${handle.jobId}`);
  console.log('result:', JSON.stringify(await handle.result()));
  for (const step of await handle.steps()) {
    console.log(`  step ${step.step}: ${step.name}, ${step.status} after ${step.attempt} attempt(s)`);
  }
  console.log(`charged ${calls.charged} time(s), reserved ${calls.reserve} time(s), shipping called ${calls.ship} time(s)`);
  await reseolio.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
