import test from 'ava';
import { Registry } from 'prom-client';
import { createActorRuntime } from '../../src/actors/runtime.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/config/logger.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { MemoryAccountStore } from '../support/memory-account-store.js';
import { StandInAggregator, standInMetrics } from '../support/stand-in-aggregator.js';

test('the runtime wired from configuration syncs the simulated venue and shuts down zeroing credentials', async (t) => {
  const config = loadConfig({ SYNC_INTERVAL_MS: '0', ACTOR_IDLE_MS: '60000', METRICS_ACCOUNT_CAP: '5', SHUTDOWN_GRACE_MS: '1000' });
  const store = new MemoryAccountStore();
  const demo: AccountKey = { userUid: 'demo', exchange: 'simulated' };
  store.putConnection(demo, Buffer.from('{"apiKey":"demo","secret":"demo"}'));
  const opened: Buffer[] = [];
  const registry = new Registry();
  const runtime = createActorRuntime(config, {
    store, aggregator: new StandInAggregator(), computeMetrics: standInMetrics, registry, logger: createLogger('silent'),
    openCredential: (_account, envelope) => { const b = Buffer.from(envelope); opened.push(b); return b; },
    connectorFactory: (account) => createSimulatedConnector(account, { seed: 1, clock: { now: () => Date.now() }, startMs: Date.now() - 72 * 3_600_000 }),
  });
  const result = await runtime.supervisor.sync(demo, 'incremental', Date.now() + 30_000);
  t.true(result.hourlyReturnsWritten > 0);
  const metrics = await runtime.supervisor.getMetrics(demo);
  t.is(metrics.metrics.hours, result.hourlyReturnsWritten);
  t.regex(await registry.metrics(), /enclave_account_syncs_total\{account="simulated:demo",result="ok"\} 1/u);
  await runtime.shutdown();
  t.true(opened.every((b) => b.every((byte) => byte === 0)));
});
