// The engine off the main thread: a piscina pool sized to the machine, implementing Aggregator.
// Input is encoded to columns here (validation errors surface before any thread is involved),
// the column buffers are transferred to a worker, and the result columns are transferred back.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { decodeResult, type EngineInput, type EngineResult } from '../domain/in-process-aggregator.js';
import type { Aggregator } from '../domain/aggregation.js';
import { encodeInput, inputBuffers, type ColumnarInput, type ColumnarResult } from '../domain/columnar.js';
import { AggregationInputError } from '../domain/errors.js';
import type { WorkerReply, WorkerTask } from './aggregation.worker.js';

import { AggregationWorkerError } from './errors.js';


export interface AggregationPoolOptions {
  /** Worker threads; 0 = one per core (config POOL_THREADS). */
  readonly threads: number;
  /** Worker entry (tests point it at a wrapper that can crash); default: the engine's worker. */
  readonly workerFile?: URL;
}

export interface AggregationPool extends Aggregator {
  aggregate(input: EngineInput, signal?: AbortSignal): Promise<EngineResult>;
  /** Runs already-encoded columns; their buffers are transferred (unusable here afterwards). */
  runColumns(columns: ColumnarInput, signal?: AbortSignal): Promise<ColumnarResult>;
  readonly threads: number;
  /** Tasks waiting for a free worker (the metrics' pool queue). */
  readonly queueSize: number;
  close(): Promise<void>;
}

/** The worker next to a module: `.ts` under tsx (tests, bench), `.js` in the built `dist/`. */
export function workerFileFor(moduleUrl: string): URL {
  const extension = new URL(moduleUrl).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./aggregation.worker${extension}`, moduleUrl);
}

export function createAggregationPool(options: AggregationPoolOptions): AggregationPool {
  const threads = options.threads > 0 ? options.threads : availableParallelism();
  const piscina = new Piscina<WorkerTask, WorkerReply>({
    filename: (options.workerFile ?? workerFileFor(import.meta.url)).href,
    minThreads: threads,
    maxThreads: threads,
  });

  let closed = false;
  const runColumns = async (columns: ColumnarInput, signal?: AbortSignal): Promise<ColumnarResult> => {
    if (closed) throw new AggregationWorkerError('aggregation pool is closed');
    let reply: WorkerReply;
    try {
      reply = await piscina.run({ columns }, { transferList: inputBuffers(columns), ...(signal === undefined ? {} : { signal }) });
    } catch (error) {
      if (signal?.aborted === true || (error instanceof Error && error.name === 'AbortError')) throw error;
      // The inner message may come from anywhere in the worker: it is not passed on.
      const exited = error instanceof Error && /^worker exited with code: -?\d+$/u.test(error.message) ? ` (${error.message})` : '';
      throw new AggregationWorkerError(`aggregation worker failed${exited}; the task was dropped and the pool replaced the worker`);
    }
    if (!reply.ok) throw new AggregationInputError(reply.refusal);
    return reply.result;
  };

  return {
    threads,
    get queueSize() { return piscina.queueSize; },
    runColumns,
    async aggregate(input, signal) {
      signal?.throwIfAborted();
      if (closed) throw new AggregationWorkerError('aggregation pool is closed');
      return decodeResult(await runColumns(encodeInput(input), signal));
    },
    async close() {
      if (closed) return;
      closed = true;
      await piscina.destroy();
    },
  };
}
