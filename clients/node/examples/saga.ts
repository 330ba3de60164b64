/*
 * A multi-step workflow (seed README, "Saga Pattern"): an orchestrator that chains durable
 * steps, each its own job with its own retries and its own record in PostgreSQL.
 *
 *   node dist/examples/saga.js
 *
 * The orchestrator awaits its steps from inside its handler, so it holds a worker slot while
 * each step needs another one: workerConcurrency must leave room for them (the default, 10,
 * does for a few orders at once). Proper step semantics, where the orchestrator's progress
 * itself is durable, are a later issue: today a retried orchestrator enqueues its steps again,
 * so each step uses an idempotency key derived from the order to run once per order.
 */

import { Reseolio } from 'reseolio';

async function main(): Promise<void> {
  const reseolio = new Reseolio({ storage: process.env.RESEOLIO_STORAGE, workerConcurrency: 10 });
  await reseolio.start();

  let gatewayCalls = 0;
  // Each step is independently durable
  const chargePayment = reseolio.durable(
    'orders:payment:charge',
    async (orderId: string) => {
      if (++gatewayCalls === 1) throw new Error('payment gateway timed out'); // retried
      console.log(`  charged ${orderId}`);
      return { paymentId: `pay_${orderId}` };
    },
    { maxAttempts: 3, backoff: 'exponential', initialDelayMs: 200 },
  );
  const reserveInventory = reseolio.durable('orders:inventory:reserve', async (orderId: string) => {
    console.log(`  reserved the items of ${orderId}`);
    return { reservationId: `res_${orderId}` };
  });
  const createShipping = reseolio.durable('orders:shipping:create', async (orderId: string) => {
    console.log(`  created the shipment of ${orderId}`);
    return { trackingNumber: `TRACK-${orderId}` };
  });

  // Orchestrator chains them
  const processOrder = reseolio.durable(
    reseolio.namespace('orders', 'fulfillment', 'process'),
    async (orderId: string) => {
      const once = (step: string) => ({ idempotencyKey: `${step}-${orderId}` });

      const payment = await chargePayment(orderId, once('charge'));
      const { paymentId } = await payment.result(); // Wait for payment

      const inventory = await reserveInventory(orderId, once('reserve'));
      await inventory.result(); // Wait for inventory

      const shipping = await createShipping(orderId, once('ship'));
      const { trackingNumber } = await shipping.result(); // Wait for shipping

      return { status: 'fulfilled', paymentId, trackingNumber };
    },
  );

  reseolio.on('job:retry', (job, err) => console.log(`  ${job.name} attempt ${job.attempt} failed (${String(err)}); retrying`));

  const orderId = `order-${Date.now().toString(36)}`; // unique per run: the step keys derive from it
  const handle = await processOrder(orderId);
  console.log(`${orderId} accepted as job ${handle.jobId}`);
  console.log('result:', JSON.stringify(await handle.result()));
  await reseolio.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
