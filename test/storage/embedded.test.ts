import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { z } from 'zod';
import { createLogger } from '../../src/config/logger.js';
import type { AccountKey, Fill } from '../../src/domain/types.js';
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
