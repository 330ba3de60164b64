/*
 * The seed README's 30-second quick start, runnable.
 *
 *   node dist/examples/quickstart.js
 *
 * Storage: $RESEOLIO_STORAGE when set (e.g. postgres://user:pass@localhost:5432/mydb); unset,
 * the daemon keeps the jobs in a private PostgreSQL of its own (zero configuration). The
 * client starts the host's daemon when none answers (found through $RESEOLIO_DAEMON, this
 * repository's build/ directory, or $PATH) and leaves it running for the host's other
 * processes.
 */

import { Reseolio } from 'reseolio';

// A stand-in for your email provider.
const emailService = {
  async send(to: string, subject: string): Promise<void> {
    console.log(`  (emailService: "${subject}" sent to ${to})`);
  },
};

async function main(): Promise<void> {
  const reseolio = new Reseolio({
    storage: process.env.RESEOLIO_STORAGE,
  });

  await reseolio.start();

  // Make any function durable with one wrapper
  const sendEmail = reseolio.durable(
    reseolio.namespace('notifications', 'email', 'send'),
    async (to: string, subject: string) => {
      await emailService.send(to, subject);
      return { sent: true };
    },
  );

  // Call it like a normal function - it's now crash-proof!
  const handle = await sendEmail('user@example.com', 'Welcome!');
  console.log(`sendEmail('user@example.com', 'Welcome!') -> job ${handle.jobId}, committed to PostgreSQL`);
  const result = await handle.result(); // { sent: true }
  console.log(`handle.result() -> ${JSON.stringify(result)}`);

  await reseolio.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
