// Defect 2 of the structure issue, end to end: WatchSyncJob on the real service (in-process, real
// PostgreSQL, real worker pool, the real ccxt client against the fake Binance) streams the sync's
// own progress as it happens: pages and fills per stream while fetching, then hours valued of the
// total the engine knew before it started. Counts never decrease and the last state is complete.
import test from 'ava';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { sealCredential } from '../../src/crypto/sealed-intake.js';
import { DisclosureLevel, SyncPhase, SyncType, type SyncJobProgress } from '../../src/grpc/generated/enclave.js';
import { createBinanceLikeFake } from '../../testkit/fakes/binance-like-fake.js';
import { DAY_MS, HOUR_MS, syntheticAccount } from '../../testkit/fakes/history.js';
import { unary } from '../../testkit/support/grpc-client.js';
import { startServiceHarness } from '../app/service-harness.js';

const ACCOUNT = { userUid: 'progress-trader', exchange: 'binance' } as const;
const FILLS = 3_000;

test('a full sync of a few thousand fills streams several non-decreasing progress messages ending with every hour valued', async (t) => {
  t.timeout(300_000);
  const now = Date.now();
  const history = syntheticAccount({ fills: FILLS, fromMs: now - 20 * DAY_MS, toMs: now - 2 * HOUR_MS });
  const fake = createBinanceLikeFake('binance', { account: history, apiKey: 'progress-key', secret: 'progress-secret' });
  const venueUrl = await fake.start();
  t.teardown(() => fake.stop());
  const h = await startServiceHarness({ VENUE_BASE_URLS: `binance=${venueUrl}`, SYNC_INTERVAL_MS: '0' });
  t.teardown(() => h.close());

  const identity = await unary(h.client.getEnclaveIdentity.bind(h.client), {});
  const sealed = await sealCredential(identity.hpkePublicKey, ACCOUNT, { apiKey: 'progress-key', secret: 'progress-secret' });
  await unary(h.client.registerConnection.bind(h.client), { ...ACCOUNT, sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: DisclosureLevel.DISCLOSURE_LEVEL_FULL });

  const messages = await new Promise<SyncJobProgress[]>((resolve, reject) => {
    const received: SyncJobProgress[] = [];
    const stream = h.client.watchSyncJob({ ...ACCOUNT, type: SyncType.SYNC_TYPE_FULL }, new Metadata(), { deadline: Date.now() + 240_000 });
    stream.on('data', (m: SyncJobProgress) => received.push(m));
    stream.on('error', (error: ServiceError) => reject(error));
    stream.on('end', () => resolve(received));
  });

  const done = messages.at(-1);
  t.is(done?.phase, SyncPhase.SYNC_PHASE_DONE);
  t.is(done?.result?.fillsSynced, FILLS);
  const progress = messages.filter((m) => m.phase !== SyncPhase.SYNC_PHASE_DONE);
  t.true(progress.length >= 3, `only ${progress.length} progress messages`);
  t.true(progress.some((m) => m.phase === SyncPhase.SYNC_PHASE_FETCHING && m.fillPages > 0 && m.fillsFetched > 0 && m.fillsFetched < FILLS), 'a message while fill pages were still arriving');
  t.true(progress.some((m) => m.phase === SyncPhase.SYNC_PHASE_AGGREGATING), 'a message while hours were being valued');
  for (let i = 1; i < messages.length; i++) {
    const [before, after] = [messages[i - 1]!, messages[i]!];
    for (const field of ['fillPages', 'fillsFetched', 'cashFlowPages', 'cashFlowsFetched', 'hoursDone', 'hoursTotal'] as const) {
      t.true(after[field] >= before[field], `${field} went down at message ${i}`);
    }
  }
  const last = progress.at(-1)!;
  t.is(last.fillsFetched, FILLS);
  t.true(last.hoursTotal > 0);
  t.is(last.hoursDone, last.hoursTotal, 'the last progress message has every hour valued');
});
