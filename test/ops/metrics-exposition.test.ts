// `promtool check metrics` on a scrape of the really running service (src/main.ts as a child
// process on a throw-away database), after a sync so that the per-account families have series.
import test from 'ava';
import { SyncType } from '../../src/grpc/generated/enclave.js';
import { createTestDatabase } from '../../testkit/support/database.js';
import { connectAccount, startServiceProcess } from '../../testkit/support/service-process.js';
import { unary } from '../../testkit/support/grpc-client.js';
import { promtool } from './promtool.js';

test('a live /metrics scrape passes promtool check metrics with no complaint', async (t) => {
  const db = await createTestDatabase(t);
  const account = { userUid: 'ops-check', exchange: 'simulated' as const };
  await connectAccount(db.pool, account, { apiKey: 'ops-key', secret: 'ops-secret' });
  const svc = await startServiceProcess({ DATABASE_URL: db.url, LOG_LEVEL: 'info', SYNC_INTERVAL_MS: '3600000' });
  try {
    await unary(svc.client.processSyncJob.bind(svc.client), { ...account, type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline: Date.now() + 60_000 });
    const scrape = await svc.metricsText();
    t.regex(scrape, /enclave_account_syncs_total\{account="acct_[0-9a-f]{32}",result="ok"\} 1\n/u, 'the sync shows in the scrape, under the pseudonym');
    t.false(scrape.includes('ops-check'));
    t.regex(scrape, /enclave_venue_syncs_total\{venue="simulated",result="ok"\} 1\n/u);
    t.regex(scrape, /nodejs_eventloop_lag_p99_seconds /u);
    t.regex(scrape, /nodejs_heap_size_limit_bytes \d+/u);
    t.notRegex(scrape, /nodejs_active_(handles|requests|resources)_total/u, 'the gauges named like counters are gone');
    const result = await promtool(['check', 'metrics'], { stdin: scrape });
    t.is(`${result.stdout}${result.stderr}`.trim(), '', 'promtool has no complaint');
    t.is(result.code, 0);
  } finally {
    await svc.stop();
  }
});
