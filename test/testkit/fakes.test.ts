// The fakes are only worth testing against if they enforce the venues' rules: check the rules bite.
import test from 'ava';
import { createCcxtExchange, type CcxtVenue } from '../../src/exchanges/ccxt/ccxt-client.js';
import { createBinanceLikeFake } from '../../testkit/fakes/binance-like-fake.js';
import { createBitgetFake } from '../../testkit/fakes/bitget-fake.js';
import { createBybitFake } from '../../testkit/fakes/bybit-fake.js';
import type { FakeVenueServer } from '../../testkit/fakes/fake-server.js';
import { DAY_MS, syntheticAccount } from '../../testkit/fakes/history.js';

const credential = { apiKey: 'fake-rules-key', secret: 'fake-rules-secret', passphrase: 'fake-rules-pass' };

async function venue(t: { teardown: (fn: () => Promise<void>) => void }, name: CcxtVenue) {
  const now = Date.now();
  const account = syntheticAccount({ fills: 300, fromMs: now - 5 * DAY_MS, toMs: now - DAY_MS });
  const options = { account, ...credential };
  const fake: FakeVenueServer = name === 'bybit' ? createBybitFake(options) : name === 'bitget' ? createBitgetFake(options) : createBinanceLikeFake(name, options);
  const baseUrl = await fake.start();
  t.teardown(async () => { await fake.stop(); });
  return { fake, baseUrl, client: createCcxtExchange(name, credential, { enclaveMode: false, baseUrl, timeoutMs: 5_000, rateLimitMs: 0 }), now };
}

test('binance rejects pages over 1,000 and time ranges over 24 hours', async (t) => {
  const { client, now } = await venue(t, 'binance');
  await t.throwsAsync(client.fetchMyTrades('BTC/USDT', undefined, 1001));
  await t.throwsAsync(client.fetchMyTrades('BTC/USDT', now - 3 * DAY_MS, 10, { until: now - DAY_MS }));
  t.is((await client.fetchMyTrades('BTC/USDT', undefined, 1000, { fromId: '0' })).length, 100);
});

test('mexc rejects pages over 100', async (t) => {
  const { client } = await venue(t, 'mexc');
  await t.throwsAsync(client.fetchMyTrades('BTC/USDT', undefined, 101));
});

test('bybit rejects execution windows over 7 days and pages over 100', async (t) => {
  const { client, now } = await venue(t, 'bybit');
  await t.throwsAsync(client.fetchMyTrades(undefined, now - 9 * DAY_MS, 50, { until: now }));
  await t.throwsAsync(client.fetchMyTrades(undefined, now - 5 * DAY_MS, 101));
});

test('bitget rejects pages over 100 and windows over 90 days', async (t) => {
  const { client, now } = await venue(t, 'bitget');
  await t.throwsAsync(client.fetchMyTrades('BTC/USDT', undefined, 101));
  await t.throwsAsync(client.fetchMyTrades('BTC/USDT', now - 100 * DAY_MS, 10, { until: now }));
});

for (const name of ['binance', 'mexc', 'bybit', 'bitget'] as const) {
  test(`${name} refuses a request signed with the wrong secret and one with the wrong key`, async (t) => {
    const { baseUrl, client } = await venue(t, name);
    await t.notThrowsAsync(client.fetchBalance());
    for (const wrong of [{ ...credential, secret: 'other-secret' }, { ...credential, apiKey: 'other-key' }]) {
      const client = createCcxtExchange(name, wrong, { enclaveMode: false, baseUrl, timeoutMs: 5_000, rateLimitMs: 0 });
      await t.throwsAsync(client.fetchBalance());
    }
  });
}
