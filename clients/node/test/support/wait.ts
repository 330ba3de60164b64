/*
 * Bounded waiting for the end-to-end tests: every wait is for an event or a promise, and every
 * one of them has a deadline that names what did not happen. No sleeps as synchronisation.
 */

import type { EventEmitter } from 'node:events';

/** p, or a rejection after ms naming what was awaited. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` of emitter for which filter holds, within ms. */
export function nextEvent<A extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms = 20_000, filter: (...args: A) => boolean = () => true): Promise<A> {
  let listener: ((...args: unknown[]) => void) | undefined;
  const p = new Promise<A>((resolve) => {
    listener = (...args: unknown[]) => {
      if (!filter(...(args as A))) return;
      emitter.off(event, listener!);
      resolve(args as A);
    };
    emitter.on(event, listener);
  });
  return withTimeout(p, ms, `event ${event}`).finally(() => emitter.off(event, listener!));
}

/** A promise with its resolve and reject at hand (Promise.withResolvers, for Node 18). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A counter that resolves `reached(n)` once it has counted to n. */
export class Countdown {
  private n = 0;
  private readonly waits: { at: number; resolve: () => void }[] = [];

  get count(): number {
    return this.n;
  }

  tick(): void {
    this.n++;
    for (const w of this.waits.filter((x) => x.at <= this.n)) {
      this.waits.splice(this.waits.indexOf(w), 1);
      w.resolve();
    }
  }

  reached(at: number, ms = 20_000): Promise<void> {
    if (this.n >= at) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.waits.push({ at, resolve })), ms, `count ${at} (at ${this.n})`);
  }
}

/** Whichever of events emitter emits first, within ms: its name and arguments. */
export function firstEvent(emitter: EventEmitter, events: string[], ms = 20_000): Promise<[string, unknown[]]> {
  const listeners = new Map<string, (...args: unknown[]) => void>();
  const p = new Promise<[string, unknown[]]>((resolve) => {
    for (const ev of events) {
      const l = (...args: unknown[]) => resolve([ev, args]);
      listeners.set(ev, l);
      emitter.once(ev, l);
    }
  });
  return withTimeout(p, ms, `one of ${events.join(', ')}`).finally(() => {
    for (const [ev, l] of listeners) emitter.off(ev, l);
  });
}
