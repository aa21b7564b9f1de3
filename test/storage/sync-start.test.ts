// The actor's start read in one statement (issue 19) answers exactly what the four reads apart do.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { countStatements } from '../../testkit/support/statement-count.js';
import { sql } from 'slonik';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { TamperDetectedError } from '../../src/storage/errors.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { sealEnvelope } from '../../src/crypto/envelope.js';
import { TEST_KEYRING } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);

test('the start read equals the connection, both cursors and the engine state read apart', async (t) => {
  const store = createAccountStore(db().pool);
  const account: AccountKey = { userUid: 'starter', exchange: 'bybit' };
  const apart = async () => ({
    connection: await store.loadConnection(account),
    fillsCursor: await store.loadCursor(account, 'fills'),
    cashFlowsCursor: await store.loadCursor(account, 'cash_flows'),
    engineState: await store.loadEngineState(account),
  });
  t.deepEqual(await store.loadSyncStart!(account), await apart(), 'no connection stored');
  const generation = await store.saveConnection(account, sealEnvelope(TEST_KEYRING, account, Buffer.from('{}')));
  t.deepEqual(await store.loadSyncStart!(account), await apart(), 'a connection, nothing synced yet');
  await store.commitFillsPage(account, [], 'fills-cursor-1', generation);
  await store.saveAggregates(account, { hourlyReturns: [], snapshot: null, engineState: { v: 1, positions: [['BTC', '0.5']] }, performance: null }, generation);
  const both = await store.loadSyncStart!(account);
  t.deepEqual(both, await apart(), 'cursor and engine state stored');
  t.is(both.fillsCursor, 'fills-cursor-1');
  t.is(both.cashFlowsCursor, null);
  t.deepEqual(both.engineState, { v: 1, positions: [['BTC', '0.5']] });
  t.is(both.connection?.generation, generation);
});

test('the published metrics read equals the status and the stored metrics read apart', async (t) => {
  const store = createAccountStore(db().pool);
  const account: AccountKey = { userUid: 'reader', exchange: 'bybit' };
  const apart = async () => ({ status: await store.loadConnectionStatus(account), performance: await store.loadPerformanceStats(account) });
  // The flag counts and the level ride along (checked in flag-counts.test.ts); here status and metrics.
  const together = async () => {
    const { status, performance } = await store.loadPublishedPerformance!(account);
    return { status, performance };
  };
  t.deepEqual(await together(), await apart(), 'no connection');
  const generation = await store.saveConnection(account, sealEnvelope(TEST_KEYRING, account, Buffer.from('{}')));
  t.deepEqual(await together(), { status: 'active', performance: null }, 'connected, nothing computed');
  const hour = Date.UTC(2026, 3, 1, 10);
  const stats = {
    hours: 3, cumulativeReturn: 0.02, annualizedReturn: Infinity, annualizedVolatility: 0.1, maxDrawdown: 0.01, maxDrawdownPeakHour: hour - 7_200_000,
    maxDrawdownTroughHour: hour - 3_600_000, sharpe: null, sortino: 1.5, calmar: null, positiveHourShare: 2 / 3, bestHour: 0.02, worstHour: -0.01,
    totalFees: 1.25, realizedPnl: 10, unrealizedPnl: -2,
  };
  await store.saveAggregates(account, { hourlyReturns: [], snapshot: { at: hour, balance: 100, equity: 102 }, engineState: {}, performance: { stats, computedUntil: hour } }, generation);
  const both = await together();
  t.deepEqual(both, await apart());
  t.deepEqual(both.performance, { stats, computedUntil: hour, snapshot: { at: hour, balance: 100, equity: 102 } });
});

// Serial: the statement counter sees every query of the process.
test.serial('sealed: once the account was checked here, connection and sealed start are one statement with the same answer and the same checks', async (t) => {
  const keys = await deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });
  const sealer = createAccountSealer({ currentId: 1, accountDataKey: (account, id) => keys.accountDataKey(account, id) });
  const store = createAccountStore(db().pool, { sealed: createSealedStore(sealer) });
  const account: AccountKey = { userUid: 'sealed-starter', exchange: 'bybit' };
  const generation = await store.saveConnection(account, sealEnvelope(TEST_KEYRING, account, Buffer.from('{}')));
  await store.commitFillsPage(account, [], 'fills-cursor-1', generation);
  await store.saveAggregates(account, { hourlyReturns: [], snapshot: null, engineState: { v: 1 }, performance: null }, generation);
  // What a fresh process reads apart (connection; legacy check; sealed start).
  const apart = await createAccountStore(db().pool, { sealed: createSealedStore(sealer) }).loadSyncStart!(account);
  t.is(apart.fillsCursor, 'fills-cursor-1');
  t.deepEqual(apart.engineState, { v: 1 });
  let again: unknown;
  t.is(await countStatements(async () => { again = await store.loadSyncStart!(account); }), 1);
  t.deepEqual(again, apart);
  // Parked: the connection as stored, nothing of the sealed start.
  await store.setConnectionStatus(account, 'failed', 'venue_auth');
  const parked = await store.loadSyncStart!(account);
  t.deepEqual(parked, { connection: { ...apart.connection!, status: 'failed', parkedReason: 'venue_auth' }, fillsCursor: null, cashFlowsCursor: null, engineState: null });
  await store.setConnectionStatus(account, 'active');
  // The same checks as the sealed start read apart: an edited record is tamper.
  await db().pool.query(sql.unsafe`UPDATE sealed_records SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) WHERE user_uid = ${account.userUid} AND kind = 'account'`);
  await t.throwsAsync(store.loadSyncStart!(account), { instanceOf: TamperDetectedError });
});
