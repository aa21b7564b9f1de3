import test from 'ava';
import { Registry } from 'prom-client';
import { createActorRuntime } from '../../src/actors/runtime.js';
import { deadlineSignal } from '../../src/actors/nact.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/config/logger.js';
import { openEnvelope, sealEnvelope } from '../../src/crypto/envelope.js';
import { inProcessAggregator } from '../../src/domain/in-process-aggregator.js';
import { createReads } from '../../src/app/reads.js';
import { SealedCredentialError } from '../../src/crypto/errors.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { TEST_KEYRING } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { FULL_DISCLOSURE } from '../../testkit/support/memory-account-store.js';

const db = useTestDatabase(test);

test('the runtime wired from configuration syncs the simulated venue and shuts down zeroing credentials', async (t) => {
  const config = loadConfig({ SYNC_INTERVAL_MS: '0', ACTOR_IDLE_MS: '60000', METRICS_ACCOUNT_CAP: '5', SHUTDOWN_GRACE_MS: '1000' });
  const demo: AccountKey = { userUid: 'demo', exchange: 'simulated' };
  await createConnectionRepository(db().pool).saveConnection(demo, sealEnvelope(TEST_KEYRING, demo, Buffer.from('{"apiKey":"demo","secret":"demo"}')));
  const opened: Buffer[] = [];
  const store = createAccountStore(db().pool);
  const registry = new Registry();
  const runtime = createActorRuntime(config, {
    store, aggregator: inProcessAggregator, registry, logger: createLogger('silent'),
    openSealed: () => Promise.reject(new SealedCredentialError('unopenable')),
    sealForStorage: (account, plaintext) => sealEnvelope(TEST_KEYRING, account, plaintext),
    openCredential: (account, envelope) => { const b = openEnvelope(TEST_KEYRING, account, envelope); opened.push(b); return b; },
    connectorFactory: (account) => createSimulatedConnector(account, { seed: 1, clock: { now: () => Date.now() }, startMs: Date.now() - 72 * 3_600_000 }),
  });
  const result = await runtime.supervisor.sync(demo, 'incremental', { signal: deadlineSignal(30_000) });
  t.true(result.hourlyReturnsWritten > 0);
  const metrics = await createReads(store, () => false, FULL_DISCLOSURE).performance(demo);
  t.is(metrics.hours, result.hourlyReturnsWritten);
  t.regex(await registry.metrics(), /enclave_account_syncs_total\{account="simulated:demo",result="ok"\} 1/u);
  await runtime.shutdown();
  t.is(opened.length, 1);
  t.true(opened.every((b) => b.every((byte) => byte === 0)));
});
