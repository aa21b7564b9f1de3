// prom-client's default process and Node.js metrics, made promtool-clean, plus the two figures
// operators need beside them: the V8 heap limit (for "heap near its limit") and the worker pool.
//
// prom-client also exports nodejs_active_{handles,requests,resources}_total: gauges named like
// counters, which `promtool check metrics` rejects. Each has a per-type gauge without the suffix
// (nodejs_active_handles{type}, …) whose sum is the same total, so the `_total` ones are dropped.
import { getHeapStatistics } from 'node:v8';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

export const DROPPED_DEFAULT_METRICS: readonly string[] = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The aggregation pool as the metrics see it. */
export interface PoolGauges {
  readonly threads: number;
  readonly queueSize: number;
}

export function collectProcessMetrics(registry: Registry, pool: PoolGauges): void {
  collectDefaultMetrics({ register: registry });
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  const registers = [registry];
  new Gauge({
    name: 'nodejs_heap_size_limit_bytes', help: 'V8 heap size limit (old space ceiling) in bytes.', registers,
    collect() { this.set(getHeapStatistics().heap_size_limit); },
  });
  new Gauge({
    name: 'enclave_pool_threads', help: 'Aggregation worker threads.', registers,
    collect() { this.set(pool.threads); },
  });
  new Gauge({
    name: 'enclave_pool_queue_size', help: 'Aggregation tasks waiting for a worker thread.', registers,
    collect() { this.set(pool.queueSize); },
  });
}
