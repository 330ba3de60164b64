/*
 * Fire-and-forget (seed README, "Simple: Fire-and-Forget Email"): the call returns as soon as
 * the job is committed; the email is sent by a worker (here, this same process), retried if
 * it fails, even if this process dies first and another one takes over.
 *
 *   node dist/examples/fire-and-forget.js
 *
 * A web server would return its response right after the call. This script has nothing else
 * to do, so it waits for the job:success event before it stops.
 */

import { Reseolio } from 'reseolio';

const emailService = {
  async send(to: string, subject: string): Promise<void> {
    console.log(`  (emailService: "${subject}" sent to ${to})`);
  },
};

async function main(): Promise<void> {
  const reseolio = new Reseolio({ storage: process.env.RESEOLIO_STORAGE });
  await reseolio.start();

  const sendEmail = reseolio.durable(
    reseolio.namespace('notifications', 'email', 'send'),
    async (to: string, subject: string) => {
      await emailService.send(to, subject);
    },
  );

  const sent = new Promise<void>((resolve) => reseolio.once('job:success', () => resolve()));

  // Returns immediately - email is guaranteed to be sent
  const handle = await sendEmail('user@example.com', 'Welcome!');
  console.log(`signup handled; welcome email queued as job ${handle.jobId}`);

  await sent;
  console.log(`job ${handle.jobId}: ${await handle.status()}`);
  await reseolio.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
