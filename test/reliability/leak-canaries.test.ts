// The confidentiality guarantee end to end (testkit/support/leak-canaries.ts): no canary key, secret
// or trade id in any log line, /metrics, gRPC reply or error, or gateway-visible table, while the
// canaries demonstrably reached the venue and the enclave's own (sealed) storage; and none in the
// database's private tables either, as text.
import test from 'ava';
import { runLeakCanaries } from '../../testkit/support/leak-canaries.js';

test('no canary key, secret or trade id appears in logs, metrics, replies, errors or gateway-visible tables', async (t) => {
  t.timeout(240_000);
  const f = await runLeakCanaries({ fills: 300 });
  t.log(JSON.stringify(f));
  // The canaries reached the places a leak would come from, and every surface was exercised.
  t.is(f.fillsSynced, 300);
  t.true(f.venueFillsServed >= 300);
  t.is(f.tradeIdsStored, 300);
  t.is(f.tradeIdsCanary, 300);
  t.true(f.returnsServed > 100);
  t.true(f.gatewayHourlyRows > 100);
  t.deepEqual(f.gatewayDenied, ['trades', 'cash_flows', 'exchange_connections', 'sync_cursors', 'engine_states', 'price_candles', 'sealed_pages', 'sealed_index', 'sealed_records']);
  t.is(f.rejectedKeyStatus, 'UNAVAILABLE');
  t.is(f.unknownAccountStatus, 'NOT_FOUND');
  t.true(f.logsNameAccount && f.metricsNameAccount, 'logs and metrics cover the account');
  t.is(f.exitCode, 0);
  t.deepEqual(f.hits, { logs: 0, metrics: 0, replies: 0, gatewayTables: 0, privateTables: 0 });
  t.true(f.exactAmountsChecked > 0, 'exact figures were looked for');
  t.is(f.exactAmountsInClear, 0, 'exact amounts are sealed at rest');
});
