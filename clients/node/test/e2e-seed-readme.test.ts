/*
 * END TO END: every code block of the seed README (the user's API contract), run against the
 * real reseoliod and a real PostgreSQL. Each block is pasted as written; what differs:
 *
 * - the storage URL: this file's database (the only change to a written line);
 * - RESEOLIO_SOCKET points at this file's daemon, so that `new Reseolio({ storage })` is the
 *   seed's line and still talks to the test's daemon (it finds it running; autoStart stays on);
 * - what the seed leaves to the reader is defined around the blocks: `emailService`, `data`,
 *   `arg1`/`arg2`, `amount`/`orderId`, and the handlers the saga writes as `...`; `console` is a
 *   local recorder so that the blocks' logging becomes assertions;
 * - "// Your logic here" in Full Usage is filled in (its `return result` would otherwise read
 *   the block's own `const result`, still in its temporal dead zone while the job runs).
 *
 * The saga awaits its steps from inside a handler: its durable calls are steps of its job, and
 * while it awaits one it lends its worker slot to the steps, so even a single slot runs it (a
 * test below).
 */

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { Reseolio } from 'reseolio';
import { useEnv } from './support/e2e';
import { nextEvent } from './support/wait';

let storage = '';

/** A stand-in for the seed's services and console: records what the blocks do. */
function standIns() {
  const sent: string[] = [];
  const logged: string[] = [];
  return {
    sent,
    logged,
    emailService: { send: async (to: string, subject: string) => void sent.push(`${to} ${subject}`) },
    console: { log: (...a: unknown[]) => void logged.push(a.map(String).join(' ')) },
  };
}

/** The seed's `new Reseolio(...)` and `start()` (shared by the blocks that assume them). */
async function seedReseolio(): Promise<Reseolio> {
  const reseolio = new Reseolio({
    storage: storage
  });
  await reseolio.start();
  return reseolio;
}

describe('seed README, end to end', { timeout: 120_000 }, () => {
  const env = useEnv('seed');
  before(() => {
    storage = env.storage;
    process.env.RESEOLIO_SOCKET = env.socket;
  });

  test('30-Second Quick Start', async () => {
    const { emailService, sent } = standIns();

    const reseolio = new Reseolio({
      storage: storage
    });

    await reseolio.start();

    // Make any function durable with one wrapper
    const sendEmail = reseolio.durable(
      reseolio.namespace('notifications', 'email', 'send'),
      async (to: string, subject: string) => {
        await emailService.send(to, subject);
        return { sent: true };
      }
    );

    // Call it like a normal function - it's now crash-proof!
    const handle = await sendEmail('user@example.com', 'Welcome!');
    const result = await handle.result(); // { sent: true }

    assert.deepEqual(result, { sent: true });
    assert.deepEqual(sent, ['user@example.com Welcome!']);
    const d = await handle.details();
    assert.equal(d.status, 'success');
    assert.equal(d.name, 'notifications:email:send');
    await reseolio.stop();
  });

  test('The `await` That Survives a Crash: the call resolves to a handle once the job is durable', async () => {
    const reseolio = await seedReseolio();
    const data = { title: 'Q3' };
    const generatePDFReport = reseolio.durable('reports:pdf:generate', async (d: { title: string }) => `%PDF ${d.title}`);

    // Looks like normal code, but it's crash-proof and distributed
    const result = await generatePDFReport(data);

    // What the await gives is the durable job's handle (as in the Quick Start), not its value.
    assert.match(result.jobId, /^\d+$/);
    assert.equal(await result.result(), '%PDF Q3');
    await reseolio.stop();
  });

  test('Simple: Fire-and-Forget Email', async () => {
    const { emailService, sent } = standIns();
    const reseolio = await seedReseolio();
    const done = nextEvent(reseolio, 'job:success');

    const sendEmail = reseolio.durable(
      reseolio.namespace('notifications', 'email', 'send'),
      async (to: string, subject: string) => {
        await emailService.send(to, subject);
      }
    );

    // Returns immediately - email is guaranteed to be sent
    await sendEmail('user@example.com', 'Welcome!');

    const [job, value] = await done;
    assert.equal((job as { name: string }).name, 'notifications:email:send');
    assert.equal(value, undefined);
    assert.deepEqual(sent, ['user@example.com Welcome!']);
    await reseolio.stop();
  });

  test('Advanced: Multi-Step Workflow (Saga Pattern)', async () => {
    const reseolio = await seedReseolio();
    const steps: string[] = [];
    const charge = async (orderId: string) => void steps.push(`charge ${orderId}`);
    const reserve = async (orderId: string) => void steps.push(`reserve ${orderId}`);
    const ship = async (orderId: string) => void steps.push(`ship ${orderId}`);

    // Each step is independently durable
    const chargePayment = reseolio.durable('orders:payment:charge', charge);
    const reserveInventory = reseolio.durable('orders:inventory:reserve', reserve);
    const createShipping = reseolio.durable('orders:shipping:create', ship);

    // Orchestrator chains them
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

    const h = await processOrder('order-1');
    assert.deepEqual(await h.result(), { status: 'fulfilled' });
    assert.deepEqual(steps, ['charge order-1', 'reserve order-1', 'ship order-1']);
    const { jobs } = await reseolio.listJobs({ status: 'success' });
    for (const name of ['orders:payment:charge', 'orders:inventory:reserve', 'orders:shipping:create', 'orders:fulfillment:process']) {
      assert.ok(jobs.some((j) => j.name === name), `a successful ${name} job`);
    }
    await reseolio.stop();
  });

  test('the saga with one worker slot: the orchestrator lends its slot to its steps while it awaits them', async () => {
    const reseolio = new Reseolio({ storage, workerConcurrency: 1 });
    await reseolio.start();
    const steps: string[] = [];
    const chargePayment = reseolio.durable('saga1:charge', async (orderId: string) => void steps.push(`charge ${orderId}`));
    const createShipping = reseolio.durable('saga1:ship', async (orderId: string) => (steps.push(`ship ${orderId}`), `TRACK-${orderId}`));
    const processOrder = reseolio.durable('saga1:process', async (orderId: string) => {
      const payment = await chargePayment(orderId);
      await payment.result();
      const shipping = await createShipping(orderId);
      return { status: 'fulfilled', tracking: await shipping.result() };
    }, { maxAttempts: 1 });
    const h = await processOrder('order-2');
    assert.deepEqual(await h.result(20_000), { status: 'fulfilled', tracking: 'TRACK-order-2' });
    assert.deepEqual(steps, ['charge order-2', 'ship order-2']);
    assert.deepEqual((await h.steps()).map((s) => [s.step, s.name, s.parentId]), [
      [0, 'saga1:charge', h.jobId],
      [1, 'saga1:ship', h.jobId],
    ]);
    await reseolio.stop();
  });

  test('Full Usage: Basic Setup (options, result, details)', async () => {
    const { console } = standIns();
    const arg1 = 20;
    const arg2 = 22;

    // Initialize ONCE at app startup
    const reseolio = new Reseolio({
      storage: storage,
    });

    await reseolio.start();

    // Define durable functions
    const myJob = reseolio.durable(
      reseolio.namespace('domain', 'entity', 'action'),
      async (arg1, arg2) => {
        // Your logic here
        const result = arg1 + arg2;
        return result;
      },
      {
        maxAttempts: 5,           // Retry up to 5 times
        backoff: 'exponential',   // exponential | linear | fixed
        initialDelayMs: 1000,     // Start with 1s delay
        timeoutMs: 30000,         // 30s timeout per attempt
      }
    );

    // Call it
    const handle = await myJob(arg1, arg2);

    // Optionally await the result
    const result = await handle.result();

    // Or check status later
    const details = await handle.details();
    console.log(details.status); // 'pending' | 'running' | 'success' | 'dead'

    assert.equal(result, 42);
    assert.equal(details.maxAttempts, 5);
    assert.equal(details.attempt, 1);
    assert.deepEqual(details.args, [20, 22]);
    await reseolio.stop();
  });

  test('Idempotency (De-duplication)', async () => {
    const reseolio = await seedReseolio();
    let runs = 0;
    const processPayment = reseolio.durable('billing:payment:process', async (amount: number) => {
      runs++;
      return { charged: amount };
    });
    const orderId = 'o-42';
    const amount = 1999;

    const handles = [];
    for (let i = 0; i < 10; i++) {
      // Even if called 10 times, only runs once per orderId
      handles.push(await processPayment(amount, {
        idempotencyKey: `charge-${orderId}`
      }));
    }

    assert.equal(new Set(handles.map((h) => h.jobId)).size, 1);
    assert.deepEqual(handles.map((h) => h.deduplicated), [false, ...Array<boolean>(9).fill(true)]);
    assert.deepEqual(await handles[9]!.result(), { charged: 1999 });
    assert.equal(runs, 1);
    assert.equal((await handles[0]!.details()).idempotencyKey, 'charge-o-42');
    await reseolio.stop();
  });

  test('Monitoring Events', async () => {
    const { console, logged } = standIns();
    const reseolio = await seedReseolio();

    reseolio.on('job:start', (job) => console.log(`Started: ${job.name}`));
    reseolio.on('job:success', (job) => console.log(`Success: ${job.name}`));
    reseolio.on('job:error', (job, err) => console.log(`Error: ${err}`));

    const fails = reseolio.durable('monitor:fails', async () => {
      throw new Error('card declined');
    }, { maxAttempts: 1 });
    const works = reseolio.durable('monitor:works', async () => 'ok');
    await assert.rejects((await fails()).result(), /card declined/);
    const success = nextEvent(reseolio, 'job:success'); // emitted when the daemon confirms the outcome
    await (await works()).result();
    await success;
    assert.deepEqual(logged.slice(0, 4), ['Started: monitor:fails', 'Error: Error: card declined', 'Started: monitor:works', 'Success: monitor:works']);
    await reseolio.stop();
  });

  test('Best Practices: namespaces, small payloads, explicit timeouts, idempotent handlers', async () => {
    const reseolio = await seedReseolio();
    const handler = async (input: { orderId: string }) => ({ processed: input.orderId });

    // ❌ Ambiguous
    const ambiguous = reseolio.durable('process-data', handler);

    // ✅ Crystal clear
    const name = reseolio.namespace('billing', 'subscription', 'charge');
    assert.equal(name, 'billing:subscription:charge');

    // ✅ Pass IDs
    const processOrder = reseolio.durable('orders:order:process', handler);
    const h = await processOrder({ orderId: '123' });
    assert.deepEqual(await h.result(), { processed: '123' });

    const timed = reseolio.durable('...', handler, {
      timeoutMs: 5000 // Fail after 5s to prevent zombie jobs
    });
    assert.equal(timed.options.timeoutMs, 5000);

    // Or check state first
    const processed = new Set<string>();
    const isAlreadyProcessed = async (id: string) => processed.has(id);
    const once = reseolio.durable('orders:order:once', async (orderId: string) => {
      if (await isAlreadyProcessed(orderId)) return;
      processed.add(orderId);
      return 'did it';
    });
    assert.equal(await (await once('o-1')).result(), 'did it');
    assert.equal(await (await once('o-1')).result(), undefined);
    assert.equal(await (await ambiguous({ orderId: 'x' })).result().then((r) => r.processed), 'x');
    await reseolio.stop();
  });
});
