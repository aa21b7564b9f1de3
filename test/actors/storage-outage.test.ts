// Defect 1 of issue 12: a database outage must not park accounts. The outage is real: the
// throw-away database stops accepting connections and its backends are terminated
// (pg_terminate_backend), so the store throws what slonik really throws, translated by the real
// toStorageError. Its own database: the outage would break any test sharing it.
import test from 'ava';
import pg from 'pg';
import { ActorError, AccountFailedError } from '../../src/actors/errors.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import type { AccountKey } from '../../src/domain/types.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { createActorHarness, historyStart } from '../../testkit/support/actor-harness.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';
import { TEST_SERVER, useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test, { pool: { maxPoolSize: 2 } });
const T0 = Date.UTC(2026, 5, 1, 12, 30);

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${TEST_SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function outage(on: boolean): Promise<void> {
  const name = pg.escapeIdentifier(db().name);
  await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS ${on ? 'false' : 'true'}`);
  if (on) await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db().name}' AND pid <> pg_backend_pid()`);
}

test('a database outage resets the account actor without parking it, and syncing resumes when the database is back', async (t) => {
  const alice: AccountKey = { userUid: 'alice-outage', exchange: 'simulated' };
  let down = false;
  const seen: unknown[] = [];
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0), settings: { syncIntervalMs: 0 },
    // One crash would park the account if an outage counted as one.
    crashPolicy: { maxCrashes: 1, backoffBaseMs: 0, backoffMaxMs: 0 },
    connectorFactory: (account) => {
      const inner = createSimulatedConnector(account, { seed: 7, clock: { now: () => T0 }, startMs: historyStart(T0), fillsPerHour: 0.5, pageSize: 5 });
      return { ...inner, exchange: inner.exchange, baseCurrency: inner.baseCurrency, close: () => inner.close(), fetchBalances: (s) => inner.fetchBalances(s),
        fetchHourlyCandles: (a, b, c, s) => inner.fetchHourlyCandles(a, b, c, s), fetchCashFlows: (c, s) => inner.fetchCashFlows(c, s),
        fetchFills: (since, signal) => (async function* () {
          let pages = 0;
          for await (const page of inner.fetchFills(since, signal)) {
            // The database goes away between two page commits of the first sync.
            if (pages === 1 && !down) { down = true; await outage(true); }
            pages += 1;
            yield page;
          }
        })() };
    },
  });
  const store = h.store;
  const commit = store.commitFillsPage.bind(store);
  store.commitFillsPage = async (...args) => commit(...args).catch((error: unknown) => { seen.push(error); throw error; });
  try {
    await h.addAccount(alice);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const error = await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: ActorError });
      t.false(error instanceof AccountFailedError, `attempt ${attempt}: not parked`);
    }
    t.true(seen.length > 0 && seen.every((e) => e instanceof StorageUnavailableError), 'the real store threw its transient class');
    t.not(h.supervisor.status(alice), 'failed');
    await outage(false);
    const result = await h.supervisor.sync(alice, 'incremental');
    t.true(result.hourlyReturnsWritten > 0, 'synced once the database was back');
    t.is(await h.store.connectionStatus(alice), 'active', 'never stored as failed');
    t.deepEqual(h.supervisor.totals().failed, 0);
  } finally {
    await outage(false);
    await h.close();
  }
});
