// Full-history sync of the broker connectors against their local fakes: Alpaca 10,000 fills
// (100 pages of 100 through the SDK) and one Flex statement of 10,000 executions.
import { createAlpacaConnector } from '../src/exchanges/alpaca/alpaca-connector.js';
import { createIbkrFlexConnector } from '../src/exchanges/ibkr/flex-connector.js';
import { makeAlpacaFills, startAlpacaFake } from '../testkit/fakes/alpaca-fake.js';
import { makeFlexTrades, startFlexFake } from '../testkit/fakes/flex-fake.js';

const FILLS = Number(process.argv[2] ?? '10000');

async function timeSync(pages: AsyncIterable<{ items: readonly unknown[] }>): Promise<{ ms: number; count: number; pages: number }> {
  const started = performance.now();
  let count = 0;
  let pageCount = 0;
  for await (const page of pages) {
    count += page.items.length;
    pageCount += 1;
  }
  return { ms: Math.round(performance.now() - started), count, pages: pageCount };
}

const alpacaFake = await startAlpacaFake('key', 'secret', { fills: makeAlpacaFills(FILLS, Date.UTC(2025, 0, 2)) });
const alpaca = await timeSync(createAlpacaConnector({ apiKey: 'key', secret: 'secret' }, { enclaveMode: false, baseUrl: alpacaFake.url }).fetchFills(null));
await alpacaFake.close();
console.log(`alpaca: ${alpaca.count} fills in ${alpaca.pages} pages, ${alpaca.ms} ms (${Math.round(alpaca.count / (alpaca.ms / 1000))} fills/s)`);

const flexFake = await startFlexFake('token', 'query', { trades: makeFlexTrades(FILLS) });
const flex = await timeSync(createIbkrFlexConnector({ apiKey: 'token', secret: 'query' }, { enclaveMode: false, baseUrl: flexFake.url }).fetchFills(null));
await flexFake.close();
console.log(`flex: ${flex.count} fills from one statement in ${flex.ms} ms (download + validate + parse + normalize)`);

console.log(JSON.stringify({ bench: 'broker-sync', fills: FILLS, alpacaMs: alpaca.ms, alpacaPages: alpaca.pages, flexMs: flex.ms }));
