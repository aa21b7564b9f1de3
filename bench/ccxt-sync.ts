// Full first sync of 10,000 fills per ccxt venue against its fake (real ccxt, real signing, loopback
// HTTP): wall time, venue requests, fills per second. `npm run bench -- ccxt-sync`
// Futures (issue 15): a first sync of a year of derivatives history per venue with a derivatives
// reader, with ccxt's own rate limiter on, i.e. the venue's request weights respected
// (Bybit: execution/list 10/s, transaction-log 30/s, mark-price-kline 10/s; Binance: weight per
// minute, income 30, userTrades 5, forceOrders 50; Bitget: 50 ms a unit, mix fill-history and bill
// cost 2 (10/s per UID, Bitget's limit), contracts and mark candles 1; MEXC: 50 ms a unit, contract
// calls cost 2, contract/detail 100). FUTURES_FILLS sets the executions of the year (default 5,000).
// Binance serves income (and so the traded symbols) 3 months back only, Bitget fills and bills 90
// days: their first sync of a year-old account gets those. MEXC documents no retention: a year is read.
// Binance COIN-M (dapi: income 20, userTrades 5 by pair, forceOrders 50) runs the same trader on
// BTCUSD_PERP (with FUTURES_VENUES including binance).
// FUTURES_ONLY=1 skips the spot part. FUTURES_VENUES=bitget,mexc picks venues.
import { performance } from 'node:perf_hooks';
import type { CcxtVenue } from '../src/exchanges/ccxt/ccxt-client.js';
import { createCcxtConnector } from '../src/exchanges/ccxt/ccxt-connector.js';
import { createBinanceLikeFake } from '../testkit/fakes/binance-like-fake.js';
import { createBitgetFake } from '../testkit/fakes/bitget-fake.js';
import { createBybitFake } from '../testkit/fakes/bybit-fake.js';
import type { FakeVenueServer } from '../testkit/fakes/fake-server.js';
import { DAY_MS, syntheticAccount, type SyntheticAccount } from '../testkit/fakes/history.js';
import { syntheticPerpetuals } from '../testkit/fakes/derivatives-history.js';
import { binanceCoinmFrom, binanceFuturesFrom } from '../testkit/fakes/binance-futures-routes.js';
import { bitgetMixFrom } from '../testkit/fakes/bitget-mix-routes.js';
import { mexcContractFrom } from '../testkit/fakes/mexc-contract-routes.js';

const FILLS = Number(process.argv[2] ?? 10_000);
const credential = { apiKey: 'bench-key', secret: 'bench-secret', passphrase: 'bench-pass' };

function fake(venue: CcxtVenue, account: SyntheticAccount): FakeVenueServer {
  const options = { account, ...credential };
  switch (venue) {
    case 'binance': return createBinanceLikeFake('binance', options);
    case 'mexc': return createBinanceLikeFake('mexc', options);
    case 'bybit': return createBybitFake(options);
    case 'bitget': return createBitgetFake(options);
  }
}

const results: Record<string, { fills: number; requests: number; ms: number; fillsPerSecond: number; cashFlowMs: number }> = {};
for (const venue of process.env['FUTURES_ONLY'] === '1' ? [] : ['binance', 'bybit', 'bitget', 'mexc'] as const) {
  const now = Date.now();
  const account = syntheticAccount({ fills: FILLS, fromMs: now - 20 * DAY_MS, toMs: now - DAY_MS });
  const server = fake(venue, account);
  const baseUrl = await server.start();
  const connector = createCcxtConnector(venue, credential, { enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: now - 25 * DAY_MS });
  const started = performance.now();
  let fills = 0;
  for await (const page of connector.fetchFills(null)) fills += page.items.length;
  const ms = performance.now() - started;
  const requests = server.requests.length;
  const cashStarted = performance.now();
  for await (const page of connector.fetchCashFlows(null)) void page;
  const cashFlowMs = performance.now() - cashStarted;
  await connector.close();
  await server.stop();
  results[venue] = { fills, requests, ms: Math.round(ms), fillsPerSecond: Math.round(fills / (ms / 1000)), cashFlowMs: Math.round(cashFlowMs) };
  console.log(`${venue.padEnd(8)} ${String(fills).padStart(6)} fills  ${String(requests).padStart(5)} requests  ${Math.round(ms).toString().padStart(6)} ms  ${results[venue].fillsPerSecond} fills/s  cash flows ${Math.round(cashFlowMs)} ms`);
}

const FUTURES_FILLS = Number(process.env['FUTURES_FILLS'] ?? 5_000);
const futures: Record<string, unknown> = {};
const FUTURES_VENUES = (process.env['FUTURES_VENUES'] ?? 'bybit,binance,bitget,mexc').split(',').filter((v): v is CcxtVenue => ['bybit', 'binance', 'bitget', 'mexc'].includes(v));
for (const venue of FUTURES_VENUES) {
  const now = Date.now();
  const yearAgo = now - 365 * DAY_MS;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '10000' }, nextId: 1 };
  const derivatives = syntheticPerpetuals({ fromMs: yearAgo + DAY_MS, toMs: now - DAY_MS, executions: FUTURES_FILLS });
  const wallet = { USDT: '10000' };
  const server = venue === 'bybit' ? createBybitFake({ account, ...credential, derivatives })
    : venue === 'binance' ? createBinanceLikeFake('binance', { account, ...credential, futures: binanceFuturesFrom(derivatives, wallet) })
    : venue === 'bitget' ? createBitgetFake({ account, ...credential, mix: bitgetMixFrom(derivatives, wallet) })
    : createBinanceLikeFake('mexc', { account, ...credential, contract: mexcContractFrom(derivatives, wallet) });
  const baseUrl = await server.start();
  // No rateLimitMs: ccxt spaces requests by each endpoint's cost (the venue's weights).
  const connector = createCcxtConnector(venue, credential, { enclaveMode: false, baseUrl, historyStartMs: yearAgo, derivatives: true });
  const started = performance.now();
  let fills = 0;
  let ledgerEntries = 0;
  let marks = 0;
  for await (const page of connector.fetchFills(null)) fills += page.items.length;
  for await (const page of connector.fetchCashFlows(null)) ledgerEntries += page.items.length;
  marks += (await connector.fetchMarkCandles('BTC/USDT:USDT', yearAgo, Math.floor(now / 3_600_000) * 3_600_000)).length;
  const seconds = (performance.now() - started) / 1000;
  const byPath: Record<string, number> = {};
  for (const r of server.requests) byPath[r.path] = (byPath[r.path] ?? 0) + 1;
  await connector.close();
  await server.stop();
  futures[venue] = { executions: fills, ledgerEntries, markCandles: marks, requests: server.requests.length, seconds: Math.round(seconds * 10) / 10, byPath };
  console.log(`${venue.padEnd(8)} futures: ${fills} executions, ${ledgerEntries} ledger entries, ${marks} mark candles, ${server.requests.length} requests, ${seconds.toFixed(1)} s (venue weights respected)`);
}
// Binance COIN-M: the same trader on BTCUSD_PERP (inverse, margin in BTC) and no USDⓈ-M account.
if (FUTURES_VENUES.includes('binance')) {
  const now = Date.now();
  const yearAgo = now - 365 * DAY_MS;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { BTC: '0' }, nextId: 1 };
  const derivatives = syntheticPerpetuals({ fromMs: yearAgo + DAY_MS, toMs: now - DAY_MS, executions: FUTURES_FILLS });
  const server = createBinanceLikeFake('binance', { account, ...credential, futures: 'not-opened', coinm: binanceCoinmFrom(derivatives, { BTC: '1' }) });
  const baseUrl = await server.start();
  const connector = createCcxtConnector('binance', credential, { enclaveMode: false, baseUrl, historyStartMs: yearAgo, derivatives: true });
  const started = performance.now();
  let fills = 0;
  let ledgerEntries = 0;
  for await (const page of connector.fetchFills(null)) fills += page.items.length;
  for await (const page of connector.fetchCashFlows(null)) ledgerEntries += page.items.length;
  const marks = (await connector.fetchMarkCandles('BTC/USD:BTC', yearAgo, Math.floor(now / 3_600_000) * 3_600_000)).length;
  const positions = (await connector.fetchPositions())?.length ?? 0;
  const seconds = (performance.now() - started) / 1000;
  const byPath: Record<string, number> = {};
  for (const r of server.requests) byPath[r.path] = (byPath[r.path] ?? 0) + 1;
  await connector.close();
  await server.stop();
  futures['binance-coinm'] = { executions: fills, ledgerEntries, markCandles: marks, positions, requests: server.requests.length, seconds: Math.round(seconds * 10) / 10, byPath };
  console.log(`coinm    futures: ${fills} executions, ${ledgerEntries} ledger entries, ${marks} mark candles, ${server.requests.length} requests, ${seconds.toFixed(1)} s (venue weights respected)`);
}
console.log(JSON.stringify({ bench: 'ccxt-sync', fillsPerVenue: FILLS, results, futures: { historyDays: 365, executions: FUTURES_FILLS, results: futures } }));
