import test from 'ava';
import { CcxtConnector } from '../../src/exchanges/ccxt/ccxt-connector.js';
import { createConnector } from '../../src/exchanges/registry.js';
import { VenueError } from '../../src/exchanges/retry.js';
import { VenueConfigError } from '../../src/exchanges/venue-url.js';

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

test('brokers get their connector: Alpaca, IBKR Flex for a token and query id, IBKR TWS for an account id alone', async (t) => {
  const alpaca = createConnector({ ...user, exchange: 'alpaca' }, credential, { enclaveMode: true });
  t.is(alpaca.exchange, 'alpaca');
  t.is(alpaca.baseCurrency, 'USD');
  const flex = createConnector({ ...user, exchange: 'ibkr' }, { apiKey: 'CANARYTOKENregistry01', secret: '123456' }, { enclaveMode: true });
  const tws = createConnector({ ...user, exchange: 'ibkr' }, { apiKey: 'U1234567', secret: '' }, { enclaveMode: true });
  t.is(flex.exchange, 'ibkr');
  t.is(tws.exchange, 'ibkr');
  await Promise.all([alpaca.close(), flex.close(), tws.close()]);
  // Told apart without a network: TWS has no cash-flow feed (nothing to ask), Flex asks and is closed.
  const twsPages: unknown[] = [];
  for await (const page of tws.fetchCashFlows(null)) twsPages.push(page);
  t.deepEqual(twsPages, []);
  const closed = await t.throwsAsync(async () => {
    for await (const page of flex.fetchCashFlows(null)) t.fail(`unexpected page ${page.items.length}`);
  }, { instanceOf: VenueError });
  t.is(closed?.detail.errorClass, 'ConnectorClosed');
});

test('the simulated venue is served outside enclave mode and refused inside it', (t) => {
  const simulated = createConnector({ ...user, exchange: 'simulated' }, credential, { enclaveMode: false });
  t.is(simulated.exchange, 'simulated');
  const error = t.throws(() => createConnector({ ...user, exchange: 'simulated' }, credential, { enclaveMode: true }), { instanceOf: VenueConfigError });
  t.is(error?.exchange, 'simulated');
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
