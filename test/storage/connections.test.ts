import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { AccountKey } from '../../src/domain/types.js';
import { decodeCredential, encodeCredential } from '../../src/crypto/credential.js';
import { envelopeKeyId, openEnvelope, sealEnvelope } from '../../src/crypto/envelope.js';
import { createKeyring } from '../../src/crypto/keyring.js';
import { rotateEnvelopes } from '../../src/crypto/rotate.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createTestDatabase, useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const credential = { apiKey: 'canary-key', secret: 'canary-secret' };

test('connections are saved, replaced, listed without envelopes and removed', async (t) => {
  const repo = createConnectionRepository(db().pool);
  const ring = createKeyring([{ id: 4, secret: k1 }], 4);
  const account: AccountKey = { userUid: 'list-user', exchange: 'alpaca' };
  await repo.saveConnection(account, sealEnvelope(ring, account, encodeCredential(credential)));
  await repo.saveConnection(account, sealEnvelope(ring, account, encodeCredential({ ...credential, secret: 'new' })), 'disabled');
  const listed = (await repo.listConnections()).filter((c) => c.account.userUid === 'list-user');
  t.is(listed.length, 1);
  t.like(listed[0], { account, status: 'disabled', keyId: 4 });
  t.false(JSON.stringify(listed).includes('envelope'));
  const stored = await createAccountStore(db().pool).loadConnection(account);
  t.is(decodeCredential(openEnvelope(ring, account, stored!.envelope)).secret, 'new');
  t.true(await repo.removeConnection(account));
  t.false(await repo.removeConnection(account));
});

test('key rotation re-seals every stored envelope to the newest key, across pages', async (t) => {
  // Its own database: rotation walks every row.
  const own = await createTestDatabase(t);
  const repo = createConnectionRepository(own.pool, 3);
  const old = createKeyring([{ id: 1, secret: k1 }], 1);
  const ring = createKeyring([{ id: 1, secret: k1 }, { id: 2, secret: k2 }], 2);
  const accounts: AccountKey[] = Array.from({ length: 8 }, (_, i) => ({ userUid: `rot-${i}`, exchange: i % 2 === 0 ? 'binance' : 'bybit' }));
  for (const account of accounts) await repo.saveConnection(account, sealEnvelope(old, account, encodeCredential(credential)));
  const first = await rotateEnvelopes(repo, ring);
  t.is(first.rotated, 8);
  t.deepEqual(first.failed, []);
  const store = createAccountStore(own.pool);
  for (const account of accounts) {
    const stored = await store.loadConnection(account);
    t.is(envelopeKeyId(stored!.envelope), 2);
    t.deepEqual(decodeCredential(openEnvelope(createKeyring([{ id: 2, secret: k2 }], 2), account, stored!.envelope)), credential);
  }
  t.true((await repo.listConnections()).filter((c) => c.account.userUid.startsWith('rot-')).every((c) => c.keyId === 2));
  const second = await rotateEnvelopes(repo, ring);
  t.is(second.rotated, 0);
  t.is(second.current, 8);
});

test('replacing an envelope that changed meanwhile does nothing', async (t) => {
  const repo = createConnectionRepository(db().pool);
  const ring = createKeyring([{ id: 1, secret: k1 }], 1);
  const account: AccountKey = { userUid: 'cas-user', exchange: 'mexc' };
  const a = sealEnvelope(ring, account, Buffer.from('a'));
  const b = sealEnvelope(ring, account, Buffer.from('b'));
  await repo.saveConnection(account, a);
  t.false(await repo.replaceEnvelope(account, b, b));
  t.true(await repo.replaceEnvelope(account, a, b));
});

for (const keepAggregates of [false, true]) {
  test(`removing an account ${keepAggregates ? 'keeps' : 'deletes'} its performance stats with the hourly returns (keepAggregates ${keepAggregates})`, async (t) => {
    const repo = createConnectionRepository(db().pool);
    const store = createAccountStore(db().pool);
    const ring = createKeyring([{ id: 4, secret: k1 }], 4);
    const account: AccountKey = { userUid: `remove-stats-${keepAggregates}`, exchange: 'bybit' };
    await repo.saveConnection(account, sealEnvelope(ring, account, encodeCredential(credential)));
    const at = Date.UTC(2026, 4, 1, 1);
    const stats = {
      hours: 1, cumulativeReturn: 0.01, annualizedReturn: 0.5, annualizedVolatility: 0, maxDrawdown: 0, maxDrawdownPeakHour: null, maxDrawdownTroughHour: null,
      sharpe: null, sortino: null, calmar: null, positiveHourShare: 1, bestHour: 0.01, worstHour: 0.01, totalFees: 0, realizedPnl: 0, unrealizedPnl: 0,
    };
    await store.saveAggregates(account, {
      hourlyReturns: [{ hourStart: at - 3_600_000, return: 0.01, cumulativeReturn: 0.01, equityEnd: 101, netFlow: 0 }],
      snapshot: { at, balance: 101, equity: 101 }, engineState: { v: 1 }, performance: { stats, computedUntil: at },
    });
    t.true(await repo.removeAccount(account, { keepAggregates }));
    t.is(await store.loadEngineState(account), null);
    const returns = await store.loadHourlyReturns(account, 0, at);
    const kept = await store.loadPerformanceStats(account);
    t.is(returns.length, keepAggregates ? 1 : 0);
    t.deepEqual(kept, keepAggregates ? { stats, computedUntil: at, snapshot: { at, balance: 101, equity: 101 } } : null);
  });
}
