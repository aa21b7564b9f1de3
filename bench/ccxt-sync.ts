// Full first sync of 10,000 fills per ccxt venue against its fake (real ccxt, real signing, loopback
// HTTP): wall time, venue requests, fills per second. `npm run bench -- ccxt-sync`
import { performance } from 'node:perf_hooks';
import type { CcxtVenue } from '../src/exchanges/ccxt/ccxt-client.js';
import { createCcxtConnector } from '../src/exchanges/ccxt/ccxt-connector.js';
import { createBinanceLikeFake } from '../testkit/fakes/binance-like-fake.js';
import { createBitgetFake } from '../testkit/fakes/bitget-fake.js';
import { createBybitFake } from '../testkit/fakes/bybit-fake.js';
import type { FakeVenueServer } from '../testkit/fakes/fake-server.js';
import { DAY_MS, syntheticAccount, type SyntheticAccount } from '../testkit/fakes/history.js';

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
for (const venue of ['binance', 'bybit', 'bitget', 'mexc'] as const) {
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
console.log(JSON.stringify({ bench: 'ccxt-sync', fillsPerVenue: FILLS, results }));
