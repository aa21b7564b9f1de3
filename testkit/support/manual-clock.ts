// A clock the test moves by hand: `advance(ms)` fires every timer that falls due, in time order.
import type { Clock, TimerHandle } from '../../src/actors/clock.js';

interface Timer { readonly at: number; readonly seq: number; readonly fn: () => void; cancelled: boolean }

export class ManualClock implements Clock {
  private timers: Timer[] = [];
  private seq = 0;

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    this.seq += 1;
    const timer: Timer = { at: this.current + Math.max(0, ms), seq: this.seq, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = target;
  }
}
