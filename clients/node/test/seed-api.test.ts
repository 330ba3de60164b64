/*
 * The code blocks of the seed README (the user's API contract), run as written except for the
 * storage URL and the stand-in services. CLIENT-LOGIC: they run against the test double of the
 * daemon (test/fake-daemon.ts); against the real daemon and PostgreSQL once the engine lands.
 */

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import { Reseolio } from '../src/index';
import { FakeDaemon } from './fake-daemon';
import { tempSocketDir } from './helpers';

let tmp: ReturnType<typeof tempSocketDir>;
let fake: FakeDaemon;
let reseolio: Reseolio;

const sent: string[] = [];
const emailService = { send: async (to: string, subject: string) => void sent.push(`${to}:${subject}`) };

beforeEach(async () => {
  tmp = tempSocketDir();
  fake = new FakeDaemon(tmp.socket);
  await fake.listen();
  reseolio = new Reseolio({
    storage: 'postgres://user:pass@localhost:5432/mydb',
    socket: tmp.socket, // the fake daemon's; the seed relies on the default path
    autoStart: false,
  });
  await reseolio.start();
});

afterEach(async () => {
  await reseolio.stop();
  await fake.close();
  tmp.cleanup();
});

test('30-second quick start', async () => {
  const sendEmail = reseolio.durable(
    reseolio.namespace('notifications', 'email', 'send'),
    async (to: string, subject: string) => {
      await emailService.send(to, subject);
      return { sent: true };
    }
  );
  const handle = await sendEmail('user@example.com', 'Welcome!');
  const result = await handle.result(); // { sent: true }
  assert.deepEqual(result, { sent: true });
  assert.ok(sent.includes('user@example.com:Welcome!'));
});

test('saga: chained durable functions', async () => {
  const steps: string[] = [];
  const chargePayment = reseolio.durable('orders:payment:charge', async (id: string) => void steps.push(`charge ${id}`));
  const reserveInventory = reseolio.durable('orders:inventory:reserve', async (id: string) => void steps.push(`reserve ${id}`));
  const createShipping = reseolio.durable('orders:shipping:create', async (id: string) => void steps.push(`ship ${id}`));
  const processOrder = reseolio.durable(
    reseolio.namespace('orders', 'fulfillment', 'process'),
    async (orderId: string) => {
      const payment = await chargePayment(orderId);
      await payment.result();  // Wait for payment

      const inventory = await reserveInventory(orderId);
      await inventory.result();  // Wait for inventory

      const shipping = await createShipping(orderId);
      await shipping.result();  // Wait for shipping

      return { status: 'fulfilled' };
    }
  );
  const h = await processOrder('o-1');
  assert.deepEqual(await h.result(), { status: 'fulfilled' });
  assert.deepEqual(steps, ['charge o-1', 'reserve o-1', 'ship o-1']);
});

test('full usage: options, result, details', async () => {
  const myJob = reseolio.durable(
    reseolio.namespace('domain', 'entity', 'action'),
    async (arg1: number, arg2: number) => {
      return arg1 + arg2;
    },
    {
      maxAttempts: 5,           // Retry up to 5 times
      backoff: 'exponential',   // exponential | linear | fixed
      initialDelayMs: 1000,     // Start with 1s delay
      timeoutMs: 30000,         // 30s timeout per attempt
    }
  );
  const handle = await myJob(1, 2);
  const result = await handle.result();
  const details = await handle.details();
  assert.equal(result, 3);
  assert.equal(details.status, 'success'); // 'pending' | 'running' | 'success' | 'dead'
});

test('idempotency: only runs once per key', async () => {
  let runs = 0;
  const processPayment = reseolio.durable('billing:payment:process', async (_amount: number) => {
    runs++;
  });
  const orderId = 'o-42';
  const amount = 10;
  for (let i = 0; i < 10; i++) {
    await processPayment(amount, {
      idempotencyKey: `charge-${orderId}`
    });
  }
  await (await processPayment(amount, { idempotencyKey: `charge-${orderId}` })).result();
  assert.equal(runs, 1);
});

test('monitoring events', async () => {
  const lines: string[] = [];
  reseolio.on('job:start', (job) => lines.push(`Started: ${job.name}`));
  reseolio.on('job:success', (job) => lines.push(`Success: ${job.name}`));
  reseolio.on('job:error', (job, err) => lines.push(`Error: ${err}`));
  const fails = reseolio.durable('seed:fails', async () => {
    throw new Error('nope');
  }, { maxAttempts: 1 });
  const works = reseolio.durable('seed:works', async () => 1);
  await assert.rejects((await fails()).result());
  await (await works()).result();
  assert.deepEqual(lines, ['Started: seed:fails', 'Error: Error: nope', 'Started: seed:works', 'Success: seed:works']);
});
