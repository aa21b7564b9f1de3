// Read-only keys, really checked: each ccxt venue's key-information endpoint, asked through ccxt's
// signed request against a fake that checks the signature and answers in the venue's shape.
import test from 'ava';
import { checkReadOnlyPermissions } from '../../../src/domain/permissions.js';
import type { VenuePermissions } from '../../../src/domain/types.js';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import type { CcxtVenue } from '../../../src/exchanges/ccxt/ccxt-client.js';
import { binanceKeyRights, bitgetKeyRights, bybitKeyRights } from '../../../src/exchanges/ccxt/ccxt-permissions.js';
import { MalformedVenueResponse, VenueError } from '../../../src/exchanges/errors.js';
import { BINANCE_READ_ONLY_RESTRICTIONS, createBinanceLikeFake } from '../../../testkit/fakes/binance-like-fake.js';
import { bitgetAccountInfo, createBitgetFake } from '../../../testkit/fakes/bitget-fake.js';
import { bybitApiKeyInfo, createBybitFake } from '../../../testkit/fakes/bybit-fake.js';
import type { FakeVenueServer } from '../../../testkit/fakes/fake-server.js';
import { DAY_MS, syntheticAccount } from '../../../testkit/fakes/history.js';

const KEY = 'PERMKEY5d1e9a';
const SECRET = 'PERMSECRET77c0b3';
const PASSPHRASE = 'PERMPASS2a';

interface KeySetting {
  readonly binance?: Record<string, boolean>;
  readonly bybit?: { readOnly: 0 | 1; permissions: Record<string, string[]> };
  readonly bitget?: string[];
}

function fakeFor(venue: CcxtVenue, setting: KeySetting): FakeVenueServer {
  const now = Date.now();
  const base = { account: syntheticAccount({ fills: 0, fromMs: now - 2 * DAY_MS, toMs: now - DAY_MS }), apiKey: KEY, secret: SECRET };
  switch (venue) {
    case 'binance': return createBinanceLikeFake('binance', { ...base, ...(setting.binance === undefined ? {} : { apiRestrictions: setting.binance }) });
    case 'mexc': return createBinanceLikeFake('mexc', base);
    case 'bybit': return createBybitFake({ ...base, ...(setting.bybit === undefined ? {} : { keyInfo: setting.bybit }) });
    case 'bitget': return createBitgetFake({ ...base, passphrase: PASSPHRASE, ...(setting.bitget === undefined ? {} : { authorities: setting.bitget }) });
  }
}

async function permissionsOf(t: { teardown: (fn: () => Promise<void>) => void }, venue: CcxtVenue, setting: KeySetting = {}, secret = SECRET): Promise<{ permissions: VenuePermissions; fake: FakeVenueServer }> {
  const fake = fakeFor(venue, setting);
  const baseUrl = await fake.start();
  const connector = createCcxtConnector(venue, { apiKey: KEY, secret, passphrase: PASSPHRASE }, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, retry: { baseDelayMs: 5, maxDelayMs: 20, budgetMs: 3_000, maxAttempts: 2, attemptTimeoutMs: 3_000 },
  });
  t.teardown(async () => { await connector.close(); await fake.stop(); });
  return { permissions: await connector.fetchPermissions(), fake };
}

for (const venue of ['binance', 'bybit', 'bitget'] as const) {
  test(`${venue}: a read-only key is reported as read only and passes the policy`, async (t) => {
    const { permissions, fake } = await permissionsOf(t, venue);
    t.deepEqual(permissions, { reported: true, rights: ['read'] });
    t.deepEqual(checkReadOnlyPermissions(permissions), { ok: true, checked: true });
    t.is(fake.requests.length, 1, 'one signed request, no market loading');
  });
}

test('binance: a key that can trade spot is refused, naming the rights', async (t) => {
  const { permissions } = await permissionsOf(t, 'binance', { binance: { enableSpotAndMarginTrading: true } });
  const verdict = checkReadOnlyPermissions(permissions);
  t.false(verdict.ok);
  if (!verdict.ok) t.deepEqual(verdict.refused, ['spot_trade', 'margin_trade']);
});

test('binance: withdrawals, internal and universal transfer are refused', async (t) => {
  const { permissions } = await permissionsOf(t, 'binance', { binance: { enableWithdrawals: true, enableInternalTransfer: true, permitsUniversalTransfer: true } });
  const verdict = checkReadOnlyPermissions(permissions);
  t.false(verdict.ok);
  if (!verdict.ok) t.deepEqual(verdict.refused, ['withdraw', 'internal_transfer', 'sub_account_transfer']);
});

test('bybit: a read-write key is refused for its trading and wallet sections', async (t) => {
  const { permissions } = await permissionsOf(t, 'bybit', { bybit: { readOnly: 0, permissions: { Spot: ['SpotTrade'], Wallet: ['Withdraw'], ContractTrade: [] } } });
  const verdict = checkReadOnlyPermissions(permissions);
  t.false(verdict.ok);
  if (!verdict.ok) t.deepEqual(verdict.refused, ['spot_trade', 'withdraw']);
});

test('bitget: a key with spot trade and withdraw codes is refused', async (t) => {
  const { permissions } = await permissionsOf(t, 'bitget', { bitget: ['stor', 'stow', 'wwow'] });
  const verdict = checkReadOnlyPermissions(permissions);
  t.false(verdict.ok);
  if (!verdict.ok) t.deepEqual(verdict.refused, ['spot_trade', 'withdraw']);
});

test('mexc: its spot API reports no key permissions, so the key is unchecked and nothing is asked', async (t) => {
  const { permissions, fake } = await permissionsOf(t, 'mexc');
  t.deepEqual(permissions, { reported: false });
  t.is(fake.requests.length, 0);
});

test('a wrongly signed permission request is an auth failure, not a verdict', async (t) => {
  const error = await t.throwsAsync(permissionsOf(t, 'binance', {}, 'WRONGSECRET'), { instanceOf: VenueError });
  t.is(error?.kind, 'auth');
});

test('the recorded read-only bodies map to read only', (t) => {
  t.deepEqual(binanceKeyRights(BINANCE_READ_ONLY_RESTRICTIONS), { reported: true, rights: ['read'] });
  t.deepEqual(bybitKeyRights(bybitApiKeyInfo(KEY)), { reported: true, rights: ['read'] });
  t.deepEqual(bitgetKeyRights(bitgetAccountInfo()), { reported: true, rights: ['read'] });
  // Bitget's documented example (`trade`, `readonly`) is a trading key.
  t.deepEqual(bitgetKeyRights(bitgetAccountInfo(['trade', 'readonly'])), { reported: true, rights: ['spot_trade', 'read'] });
});

test('binance: the documentation example key (portfolio margin, transfers on) is refused', (t) => {
  const example = { ...BINANCE_READ_ONLY_RESTRICTIONS, enableInternalTransfer: true, permitsUniversalTransfer: true, enablePortfolioMarginTrading: true };
  const verdict = checkReadOnlyPermissions(binanceKeyRights(example));
  t.false(verdict.ok);
  if (!verdict.ok) t.deepEqual(verdict.refused, ['margin_trade', 'futures_trade', 'internal_transfer', 'sub_account_transfer']);
});

test('a permission flag or code the mapping does not know fails closed', (t) => {
  const unknownFlag = checkReadOnlyPermissions(binanceKeyRights({ ...BINANCE_READ_ONLY_RESTRICTIONS, enableSomethingNew: true }));
  t.false(unknownFlag.ok);
  const unknownSection = checkReadOnlyPermissions(bybitKeyRights(bybitApiKeyInfo(KEY, { readOnly: 0, permissions: { Lending: ['Borrow'] } })));
  t.false(unknownSection.ok);
  const unknownCode = checkReadOnlyPermissions(bitgetKeyRights(bitgetAccountInfo(['stor', 'zzow'])));
  t.false(unknownCode.ok);
  // A flag that is off grants nothing, known or not.
  t.deepEqual(binanceKeyRights({ ...BINANCE_READ_ONLY_RESTRICTIONS, enableSomethingNew: false }), { reported: true, rights: ['read'] });
});

test('a bybit key marked read only is read only whatever sections it may read', (t) => {
  t.deepEqual(bybitKeyRights(bybitApiKeyInfo(KEY, { readOnly: 1, permissions: { Spot: ['SpotTrade'], Wallet: ['AccountTransfer'] } })), { reported: true, rights: ['read'] });
});

test('an answer without the expected fields is a malformed response', (t) => {
  t.throws(() => binanceKeyRights({ code: -1, msg: 'x' }), { instanceOf: MalformedVenueResponse });
  t.throws(() => bybitKeyRights(undefined), { instanceOf: MalformedVenueResponse });
  t.throws(() => bitgetKeyRights({ authorities: 'stor' }), { instanceOf: MalformedVenueResponse });
});
