import test from 'ava';
import { CcxtConnector } from '../../src/exchanges/ccxt/ccxt-connector.js';
import { EXCHANGES } from '../../src/domain/types.js';
import { createConnector } from '../../src/exchanges/registry.js';
import { VenueConfigError } from '../../src/exchanges/errors.js';

const credential = { apiKey: 'CANARYKEYregistry01', secret: 'CANARYSECRETregistry01', passphrase: 'pass' };
const user = { userUid: '00000000-0000-4000-8000-000000000001' };

test('creates a ccxt connector for each ccxt venue', (t) => {
  for (const exchange of ['binance', 'bybit', 'bitget', 'mexc'] as const) {
    const connector = createConnector({ ...user, exchange }, credential, { enclaveMode: true });
    t.true(connector instanceof CcxtConnector);
    t.is(connector.exchange, exchange);
    t.is(connector.baseCurrency, 'USDT');
  }
});

test('every venue has a connector, and the simulated one is refused in enclave mode', async (t) => {
  for (const exchange of EXCHANGES) {
    const connector = createConnector({ ...user, exchange }, credential, { enclaveMode: false });
    t.is(connector.exchange, exchange);
    await connector.close();
  }
  const tws = createConnector({ ...user, exchange: 'ibkr' }, { apiKey: 'U1234567', secret: '' }, { enclaveMode: false });
  t.is(tws.exchange, 'ibkr');
  await tws.close();
  t.throws(() => createConnector({ ...user, exchange: 'simulated' }, credential, { enclaveMode: true }), { instanceOf: VenueConfigError });
});

test('enclave mode refuses a venue URL that is not https', (t) => {
  for (const exchange of ['binance', 'bybit', 'bitget', 'mexc'] as const) {
    const error = t.throws(() => createConnector({ ...user, exchange }, credential, { enclaveMode: true, baseUrl: 'http://127.0.0.1:9' }), { instanceOf: VenueConfigError });
    t.regex(error?.message ?? '', /refused in enclave mode \(https only\)/u);
    t.false(error?.message.includes('CANARY') ?? true);
  }
});

test('enclave mode refuses any base-URL override, even an https one', (t) => {
  const error = t.throws(() => createConnector({ ...user, exchange: 'binance' }, credential, { enclaveMode: true, baseUrl: 'https://fake.example' }), { instanceOf: VenueConfigError });
  t.regex(error?.message ?? '', /override refused in enclave mode/u);
});

test('outside enclave mode a plain-http fake venue URL is accepted', (t) => {
  t.notThrows(() => createConnector({ ...user, exchange: 'bybit' }, credential, { enclaveMode: false, baseUrl: 'http://127.0.0.1:9' }));
});

test('a URL that is not http(s) is refused even outside enclave mode', (t) => {
  t.throws(() => createConnector({ ...user, exchange: 'mexc' }, credential, { enclaveMode: false, baseUrl: 'file:///etc/passwd' }), { instanceOf: VenueConfigError });
});

test('bitget without a passphrase is refused before any request', (t) => {
  t.throws(() => createConnector({ ...user, exchange: 'bitget' }, { apiKey: 'k', secret: 's' }, { enclaveMode: false }), { instanceOf: VenueConfigError, message: /passphrase/u });
});
