// Issue 13, item 7: Alpaca issues no read-only keys, so its keys always carry trading rights. A
// Register is refused unless the account holder opted in (accept_trading_key_risk), and the
// choice is stored with the connection. Real actor, real PostgreSQL, the real Alpaca connector
// against the Alpaca fake.
import test from 'ava';
import { z } from 'zod';
import { decodeCredential } from '../../src/crypto/credential.js';
import { WritableCredentialError } from '../../src/domain/errors.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createAlpacaConnector } from '../../src/exchanges/alpaca/alpaca-connector.js';
import { sql } from '../../src/storage/pool.js';
import { createActorHarness, sealForTest } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { startAlpacaFake } from '../../testkit/fakes/alpaca-fake.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const KEY = 'PK-opt-in-test';
const SECRET = 'alpaca-secret-71c2';

async function storedOptIn(account: AccountKey): Promise<boolean | null> {
  return db().pool.maybeOneFirst(sql.type(z.object({ accept: z.boolean() }))`
    SELECT accept_trading_key_risk AS accept FROM exchange_connections WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
}

test('an Alpaca key is refused without the trading-key opt-in and accepted with it; the choice is stored', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET);
  t.teardown(() => fake.close());
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const h = createActorHarness({
    database: db(),
    clock,
    settings: { syncIntervalMs: 0 },
    connectorFactory: (_account, credential) => createAlpacaConnector(decodeCredential(credential), { enclaveMode: false, baseUrl: fake.url }),
  });
  const account: AccountKey = { userUid: 'alpaca-holder', exchange: 'alpaca' };

  const refused = await t.throwsAsync(h.supervisor.register(account, await sealForTest(account, { apiKey: KEY, secret: SECRET })), { instanceOf: WritableCredentialError });
  t.regex(refused?.message ?? '', /trading rights \(spot_trade\).*explicit opt-in/u);
  t.is(await storedOptIn(account), null, 'nothing stored');

  const accepted = await h.supervisor.register(account, await sealForTest(account, { apiKey: KEY, secret: SECRET }), undefined, { acceptTradingKeyRisk: true });
  t.deepEqual(accepted, { status: 'active', permissionsChecked: true });
  t.is(await storedOptIn(account), true);
  t.false(h.logLines.join('\n').includes(SECRET));
});

test('the opt-in does not accept trading rights on a venue that issues read-only keys', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const { createSimulatedConnector } = await import('../../src/exchanges/simulated.js');
  const h = createActorHarness({
    database: db(),
    clock,
    settings: { syncIntervalMs: 0 },
    connectorFactory: (account) => createSimulatedConnector(account, { seed: 1, clock, startMs: clock.now() - 3_600_000, fillsPerHour: 0, pageSize: 5, rights: ['read', 'spot_trade'] }),
  });
  const account: AccountKey = { userUid: 'binance-like', exchange: 'simulated' };
  await t.throwsAsync(h.supervisor.register(account, await sealForTest(account, { apiKey: 'k', secret: 's' }), undefined, { acceptTradingKeyRisk: true }), { instanceOf: WritableCredentialError });
  t.is(await storedOptIn(account), null);
});
