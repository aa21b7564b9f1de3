// The worker pool's error family.

/** A task the worker could not finish: it crashed or threw. Never carries the worker's own text. */
export class AggregationWorkerError extends Error {
  override name = 'AggregationWorkerError';
}
