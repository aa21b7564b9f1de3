// The trusted base at start: only the four ccxt exchange classes load, no websocket modules of
// ccxt, and no native addon (.node) is mapped into the process.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import * as ccxtRoot from 'ccxt';
import * as modules from '../../src/exchanges/ccxt/ccxt-modules.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

interface StartGraph { readonly modules: number; readonly ccxtExchanges: readonly string[]; readonly ccxtWs: number; readonly addons: readonly string[] }

test('starting the service loads the four ccxt exchanges only, no ccxt websocket module and no native addon', async (t) => {
  // A clean environment: the switch that keeps bufferutil out is set by the code, not inherited.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WS_NO_')));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/start-graph.mjs', '--source'], { cwd: root, env, timeout: 60_000 });
  const graph = JSON.parse(stdout) as StartGraph;
  t.deepEqual(graph.ccxtExchanges, ['binance', 'bitget', 'bybit', 'mexc']);
  t.is(graph.ccxtWs, 0);
  t.deepEqual(graph.addons, []);
});

test('the per-module ccxt classes are the very classes ccxt\'s root exports (same module instances)', (t) => {
  t.is(modules.binance, ccxtRoot.binance);
  t.is(modules.bybit, ccxtRoot.bybit);
  t.is(modules.bitget, ccxtRoot.bitget);
  t.is(modules.mexc, ccxtRoot.mexc);
  t.is(modules.BadResponse, ccxtRoot.BadResponse);
  t.is(modules.AuthenticationError, ccxtRoot.AuthenticationError);
  t.is(modules.NetworkError, ccxtRoot.NetworkError);
});
