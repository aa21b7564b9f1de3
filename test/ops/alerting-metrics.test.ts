// The metrics the alert rules stand on (deploy/prometheus/enclave-rules.yml), on an injected registry.
import test from 'ava';
import { Registry } from 'prom-client';
import { ActorMetrics } from '../../src/actors/metrics.js';
import type { AccountKey } from '../../src/domain/types.js';
import { collectProcessMetrics, DROPPED_DEFAULT_METRICS } from '../../src/app/process-metrics.js';

const HOUR = 3_600_000;
const alice: AccountKey = { userUid: 'alice', exchange: 'binance' };
const bob: AccountKey = { userUid: 'bob', exchange: 'binance' };
const carol: AccountKey = { userUid: 'carol', exchange: 'bybit' };
const dave: AccountKey = { userUid: 'dave', exchange: 'bybit' };

test('staleness outlives passivation, counts accounts never synced since their first start, and forgets removed ones', async (t) => {
  const registry = new Registry();
  let now = 10 * HOUR;
  const metrics = new ActorMetrics(registry, 1, { syncIntervalMs: HOUR, now: () => now });
  for (const account of [alice, bob, carol, dave]) metrics.track(account, () => 0);
  // bob is beyond the label cap of 1 but still counted; dave's connection was never found (no 'idle').
  for (const account of [alice, bob, carol]) metrics.setState(account, 'idle');
  metrics.syncFinished(alice, 'ok', 1_000, 3, now);
  metrics.untrack(alice); // passivated between two scheduled syncs
  now += 2 * HOUR + 1;
  let text = await registry.metrics();
  t.regex(text, /enclave_sync_interval_seconds 3600\n/u);
  t.regex(text, /enclave_accounts_stale\{venue="binance"\} 2\n/u, 'alice (last success) and bob (first seen) are past two intervals');
  t.regex(text, /enclave_accounts_stale\{venue="bybit"\} 1\n/u);
  metrics.syncFinished(bob, 'ok', 1_000, 0, now);
  metrics.forget(carol);
  text = await registry.metrics();
  t.regex(text, /enclave_accounts_stale\{venue="binance"\} 1\n/u);
  t.notRegex(text, /venue="bybit"\} 1/u);
});

test('no staleness is counted when scheduled syncs are disabled', async (t) => {
  const registry = new Registry();
  const metrics = new ActorMetrics(registry, 10, { syncIntervalMs: 0, now: () => 100 * HOUR });
  metrics.track(alice, () => 0);
  metrics.setState(alice, 'idle');
  t.notRegex(await registry.metrics(), /enclave_accounts_stale\{/u);
});

test('venue syncs count every result, and venue failures their class', async (t) => {
  const registry = new Registry();
  const metrics = new ActorMetrics(registry, 0);
  metrics.syncFinished(alice, 'ok', 10, 1, 1);
  metrics.syncFinished(alice, 'venue_error', 10, 0, 2, 'rate-limited');
  metrics.syncFinished(carol, 'venue_error', 10, 0, 3, 'auth');
  const text = await registry.metrics();
  t.regex(text, /enclave_venue_syncs_total\{venue="binance",result="ok"\} 1\n/u);
  t.regex(text, /enclave_venue_syncs_total\{venue="binance",result="venue_error"\} 1\n/u);
  t.regex(text, /enclave_venue_sync_failures_total\{venue="binance",kind="rate_limited"\} 1\n/u);
  t.regex(text, /enclave_venue_sync_failures_total\{venue="bybit",kind="auth"\} 1\n/u);
  t.false(text.includes('alice'), 'no account in the capped-out per-venue series');
});

test('the full-sync gate and parked accounts come from the supervisor probes', async (t) => {
  const registry = new Registry();
  const metrics = new ActorMetrics(registry, 10);
  metrics.setFullSyncGateProbe(() => ({ inUse: 2, capacity: 2 }));
  metrics.setTotalsProbe(() => ({ alive: 1, passivated: 0, failed: 4, parked: { venue_auth: 2, venue_unavailable: 0, internal: 1, tamper: 1 } }));
  const text = await registry.metrics();
  t.regex(text, /enclave_full_sync_gate_in_use 2\n/u);
  t.regex(text, /enclave_full_sync_gate_capacity 2\n/u);
  t.regex(text, /enclave_accounts_parked\{reason="venue_auth"\} 2\n/u);
  t.regex(text, /enclave_accounts_parked\{reason="venue_unavailable"\} 0\n/u);
  t.regex(text, /enclave_accounts_parked\{reason="internal"\} 1\n/u);
  t.regex(text, /enclave_accounts_parked\{reason="tamper"\} 1\n/u);
});

test('process metrics drop the gauges named like counters and add the heap limit and the pool', async (t) => {
  const registry = new Registry();
  collectProcessMetrics(registry, { threads: 2, queueSize: 5 });
  const text = await registry.metrics();
  for (const name of DROPPED_DEFAULT_METRICS) t.false(text.includes(`${name} `), name);
  t.regex(text, /nodejs_active_resources\{type="\w+"\} \d+/u, 'the per-type gauges stay');
  t.regex(text, /nodejs_heap_size_limit_bytes [1-9]\d+\n/u);
  t.regex(text, /enclave_pool_threads 2\n/u);
  t.regex(text, /enclave_pool_queue_size 5\n/u);
});
