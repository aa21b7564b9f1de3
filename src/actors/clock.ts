// Time as a dependency: actors schedule syncs, idle checks and restart backoffs through a Clock,
// so tests drive time by hand instead of sleeping.
import type { EpochMs } from '../domain/types.js';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): EpochMs;
  /** Runs `fn` once after `ms`; timers never keep the process alive. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const timer = setTimeout(fn, Math.max(0, Math.min(ms, 2_147_483_647)));
    timer.unref();
    return { cancel: () => { clearTimeout(timer); } };
  },
};

/** Resolves after `ms` on the given clock. */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => { clock.setTimer(ms, resolve); });
}

/** Exponential backoff with equal jitter: a delay in [c/2, c], c = min(max, base·2^(attempt−1)). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
