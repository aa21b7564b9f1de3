// The main thread's side of the off-loop lease renewal (lease-renewal.worker.ts): starts the
// worker with the shared deadline cell of the lease book and hands its results to the keeper.
// The embedded database serves one session in this process: there the keeper renews in its loop.
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { assertNever } from '../domain/types.js';
import type { ShardLease } from './shard-fence.js';

export interface RenewalWorkerData {
  readonly url: string;
  readonly instanceId: string;
  readonly addr: string;
  readonly ttlMs: number;
  /** The lease book's deadline cell (shared memory). */
  readonly deadline: BigInt64Array;
  readonly mainTimeOrigin: number;
}

export type RenewalWorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'renewed'; readonly sentMs: number; readonly roundTripMs: number; readonly leases: ShardLease[] }
  | { readonly type: 'failed'; readonly failures: number; readonly error: string }
  | { readonly type: 'closed' };

/** A renewal the worker finished: sent at `sentMs` on this thread's performance.now() timeline. */
export interface RenewalResult {
  readonly sentMs: number;
  readonly roundTripMs: number;
  readonly leases: readonly ShardLease[];
}

export interface RenewalHandlers {
  renewed(result: RenewalResult): void;
  failed(failures: number, error: string): void;
  /** The worker ended on its own (it crashed; `error`: the error's name): no renewal will come from it any more. */
  exited(error: string | null): void;
}

export interface LeaseRenewer {
  /** Resolves once the worker renews on its timer. */
  readonly ready: Promise<void>;
  /** Stops the timer, closes the connection and ends the thread (terminated if a renewal hangs). */
  close(): Promise<void>;
}

export interface LeaseRenewerOptions {
  readonly url: string;
  readonly instanceId: string;
  readonly addr: string;
  readonly ttlMs: number;
  readonly deadline: BigInt64Array;
}

/** The worker next to this module: `.ts` under tsx (tests), `.js` in the built `dist/` (as src/pool does). */
function workerFile(): URL {
  const extension = new URL(import.meta.url).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./lease-renewal.worker${extension}`, import.meta.url);
}

const CLOSE_WAIT_MS = 1_000;

export function startLeaseRenewer(options: LeaseRenewerOptions, handlers: RenewalHandlers): LeaseRenewer {
  const data: RenewalWorkerData = { ...options, mainTimeOrigin: performance.timeOrigin };
  const worker = new Worker(workerFile(), { workerData: data });
  // Like the in-loop renewal timer, it does not keep the process alive by itself.
  worker.unref();
  let closing = false;
  let markReady: () => void = () => {};
  let markClosed: () => void = () => {};
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });
  worker.on('message', (message: RenewalWorkerMessage) => {
    switch (message.type) {
      case 'ready': markReady(); return;
      case 'renewed': handlers.renewed(message); return;
      case 'failed': handlers.failed(message.failures, message.error); return;
      case 'closed': markClosed(); return;
      default: assertNever(message);
    }
  });
  // Reported by name only, with the exit.
  let crash: string | null = null;
  worker.on('error', (error) => { crash = error.name; });
  worker.on('exit', () => {
    markReady();
    markClosed();
    if (!closing) handlers.exited(crash);
  });
  return {
    ready,
    async close() {
      if (closing) return;
      closing = true;
      worker.postMessage('stop');
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => { timeout = setTimeout(resolve, CLOSE_WAIT_MS); })]);
      clearTimeout(timeout);
      await worker.terminate();
    },
  };
}
