import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { countStatements } from '../../testkit/support/statement-count.js';
import { z } from 'zod';
import { createLogger } from '../../src/config/logger.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createCheckpointSigner } from '../../src/crypto/track-record.js';
import type { AccountKey, Fill, HourlyReturn } from '../../src/domain/types.js';
import type { AggregateWrite } from '../../src/storage/account-store.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { startEmbeddedDatabase } from '../../src/storage/embedded.js';
import { migrate } from '../../src/storage/migrate.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { createDatabasePool, sql } from '../../src/storage/pool.js';

test('the embedded database applies every migration and round-trips a trade through the account store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pglite-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logger = createLogger('silent');
  const account: AccountKey = { userUid: 'embedded-user', exchange: 'binance' };
  const fill: Fill = {
    exchangeTradeId: 'e1', symbol: 'ETH/USDT', baseAsset: 'ETH', quoteAsset: 'USDT', side: 'sell',
    quantity: '0.000000000123456789', price: '3012.5', fee: '0', feeAsset: 'USDT', executedAt: Date.UTC(2026, 5, 1, 8, 30),
  };

  // Phase 1 through openStorage, exactly as the service starts without DATABASE_URL.
  const storage = await openStorage({ DATABASE_URL: undefined, EMBEDDED_DB_DIR: dir }, logger);
  try {
    t.true(storage.embedded);
    t.is(storage.pool.configuration.maxPoolSize, 1);
    const store = storage.accountStore;
    t.deepEqual(await store.commitFillsPage(account, [fill, fill], 'cursor-1'), { inserted: 1 });
    // Concurrent callers share the single connection safely.
    const loads = await Promise.all([store.loadFills(account, 0), store.loadCursor(account, 'fills'), store.loadFills(account, 0)]);
    t.deepEqual(loads, [[fill], 'cursor-1', [fill]]);
    const roles = await storage.pool.anyFirst(sql.type(z.object({ rolname: z.string() }))`
      SELECT rolname FROM pg_roles WHERE rolname IN ('enclave_user', 'gateway_user') ORDER BY rolname`);
    t.deepEqual(roles, ['enclave_user', 'gateway_user']);
  } finally {
    await storage.close();
  }

  // The data directory persists: reopening finds the schema applied and the trade stored.
  const second = await startEmbeddedDatabase(dir);
  try {
    t.deepEqual((await migrate(second.url, logger)).applied, []);
    const pool = await createDatabasePool(second.url, { maxPoolSize: second.maxPoolSize });
    try {
      t.deepEqual(await createAccountStore(pool).loadFills(account, 0), [fill]);
    } finally {
      await pool.end();
    }
  } finally {
    await second.stop();
  }
});

// Serial: the statement counter sees every query of the process.
test.serial('on the embedded database the sealed aggregate write of a new hour is the one statement too, and reads back checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pglite-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });
  const accountKeys = { currentId: 1, accountDataKey: (a: AccountKey, id: number) => keys.accountDataKey(a, id) };
  const storage = await openStorage({ DATABASE_URL: undefined, EMBEDDED_DB_DIR: dir }, createLogger('silent'), { accountKeys, checkpoints: createCheckpointSigner(keys) });
  try {
    const account: AccountKey = { userUid: 'embedded-sealed', exchange: 'binance' };
    const generation = await storage.accountStore.saveConnection(account, Buffer.alloc(64, 1));
    const h = (n: number) => Date.UTC(2026, 3, 1, n);
    const hour = (n: number): HourlyReturn => ({ hourStart: h(n), return: 0.01, cumulativeReturn: 0.01 * n, equityEnd: 1_000 + n, netFlow: 0 });
    const write = (n: number): AggregateWrite => ({ hourlyReturns: [hour(n)], snapshot: { at: h(n + 1), balance: 1, equity: 1_000 + n }, engineState: { n }, performance: null });
    await storage.accountStore.saveAggregates(account, write(0), generation);
    // The one statement: the state, both amounts rows and the checkpoint written together.
    t.is(await countStatements(() => storage.accountStore.saveAggregates(account, write(1), generation)), 1);
    const rows = await storage.accountStore.loadHourlyReturns(account, h(0), h(5));
    t.deepEqual(rows.map((r) => [r.hourStart, r.equityEnd]), [[h(0), 1_000], [h(1), 1_001]]);
    t.deepEqual((await storage.accountStore.loadSyncStart!(account)).engineState, { n: 1 });
    t.is((await storage.checkpoints.latestCheckpoint(account))?.hours, 2);
  } finally {
    await storage.close();
  }
});
