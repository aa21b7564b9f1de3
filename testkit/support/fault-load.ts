// Actor isolation and venue faults under load, in one process: the real supervisor and account
// actors, the real PostgreSQL store, the real engine in the worker pool, real ccxt connectors
// against fake Binance servers. Accounts come in three kinds:
//   - healthy (70%): a calm venue; every sync must succeed, before and during the storm;
//   - faulty (20%): a venue answering 429/418 with Retry-After, 503, hangs and malformed bodies at
//     random; each sync must end completed or with a typed error (the actor error family) within
//     its bound;
//   - crashing (10%): their connector factory throws, so each sync crashes the actor; after the
//     crash policy's limit they must be failed (refused with AccountFailedError), not restarting.
// Query replies of healthy accounts are timed calm, then during the storm (p99 of both).
// Used by test/reliability/fault-load.test.ts (100 accounts) and scripts/soak.ts (1,000).
import { FULL_DISCLOSURE } from './memory-account-store.js';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/config/logger.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../../src/actors/account-actor.js';
import { createReads } from '../../src/app/reads.js';
import { SealedCredentialError } from '../../src/crypto/errors.js';
import type { AccountKey } from '../../src/domain/types.js';
import { ActorError, AccountFailedError } from '../../src/actors/errors.js';
import { systemClock } from '../../src/actors/clock.js';
import { createSupervisor } from '../../src/actors/supervisor.js';
import { deadlineSignal } from '../../src/actors/nact.js';
import { createKeyring } from '../../src/crypto/keyring.js';
import { openEnvelope, sealEnvelope } from '../../src/crypto/envelope.js';
import { decodeCredential } from '../../src/crypto/credential.js';
import { createCcxtConnector } from '../../src/exchanges/ccxt/ccxt-connector.js';
import { createAggregationPool } from '../../src/pool/aggregation-pool.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import type { Fault } from '../fakes/fake-server.js';
import { DAY_MS } from '../fakes/history.js';
import { createTestDatabase } from './database.js';
import { CANARY_API_KEY, CANARY_API_SECRET, startCanaryVenue } from './canary-venue.js';
import { TEST_KEY_HEX, TEST_KEY_ID, connectAccount } from './service-process.js';
import { prng } from '../../src/domain/prng.js';

export interface FaultLoadFigures {
  readonly accounts: number;
  readonly healthy: { readonly total: number; readonly syncsOk: number; readonly syncsFailed: number; readonly failures: Record<string, number> };
  readonly faulty: { readonly total: number; readonly completed: number; readonly typedFailures: number; readonly untypedFailures: number; readonly overBound: number; readonly faultsServed: number };
  readonly crashing: { readonly total: number; readonly failedState: number; readonly refusedAsFailed: number; readonly restartLoops: number };
  readonly slowestSyncMs: number;
  readonly boundMs: number;
  readonly p99CalmMs: number;
  readonly p99StormMs: number;
  readonly p99Ratio: number;
  readonly seconds: number;
}

const FAULTS: readonly Fault[] = ['rate-limit', 'ip-ban', 'server-error', 'hang', 'malformed'];

function p99(samples: number[]): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

/** Runs `work` over items with at most `limit` in flight. */
async function bounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

export async function runFaultLoad(options: { readonly accounts: number; readonly seed?: number; readonly faultRate?: number; readonly queryRounds?: number; readonly concurrency?: number }): Promise<FaultLoadFigures> {
  const started = Date.now();
  const random = prng(options.seed ?? 8);
  const db = await createTestDatabase(undefined, { pool: { maxPoolSize: 10 } });
  const calm = await startCanaryVenue({ fills: 30, days: 2, firstId: 2_000_001 });
  const stormy = await startCanaryVenue({ fills: 30, days: 2, firstId: 2_000_001 });
  let storm = false;
  const faultRate = options.faultRate ?? 0.15;
  stormy.fake.randomFault = () => (storm && random() < faultRate ? FAULTS[Math.floor(random() * FAULTS.length)] : undefined);
  const pool = createAggregationPool({ threads: 1 });
  const secret = Buffer.from(TEST_KEY_HEX, 'hex');
  const keyring = createKeyring([{ id: TEST_KEY_ID, secret }], TEST_KEY_ID);
  const logLines: string[] = [];
  const logger = createLogger('warn', new Writable({ write(chunk: Buffer, _e, done) { logLines.push(chunk.toString('utf8')); done(); } }));
  const kinds = new Map<string, 'healthy' | 'faulty' | 'crashing'>();
  const accounts: AccountKey[] = [];
  for (let i = 0; i < options.accounts; i += 1) {
    const account: AccountKey = { userUid: `load_${i}`, exchange: 'binance' };
    accounts.push(account);
    kinds.set(account.userUid, i % 10 === 0 ? 'crashing' : i % 10 < 3 ? 'faulty' : 'healthy');
  }
  const of = (kind: string): AccountKey[] => accounts.filter((a) => kinds.get(a.userUid) === kind);
  const now = Date.now();
  const boundMs = 60_000;
  let factoryCalls = 0;
  const store = createAccountStore(db.pool);
  const supervisor = createSupervisor({
    deps: {
      store,
      aggregator: pool,
      openCredential: (account, envelope) => openEnvelope(keyring, account, envelope),
      connectorFactory: (account, plaintext) => {
        const kind = kinds.get(account.userUid);
        if (kind === 'crashing') {
          factoryCalls += 1;
          throw new Error('injected crash');
        }
        return createCcxtConnector('binance', decodeCredential(plaintext), {
          enclaveMode: false,
          baseUrl: kind === 'faulty' ? stormy.baseUrl : calm.baseUrl,
          logger,
          rateLimitMs: 0,
          historyStartMs: now - 3 * DAY_MS,
          settleLagMs: 1000,
          // Attempts get 5 s: the fakes share this process's event loop, which 1,000 accounts saturate.
          retry: { baseDelayMs: 5, maxDelayMs: 200, budgetMs: 15_000, maxAttempts: 4, attemptTimeoutMs: 5_000 },
        });
      },
      // Nothing registers here: accounts are stored directly (connectAccount).
      openSealed: () => Promise.reject(new SealedCredentialError('unopenable')),
      sealForStorage: (account, plaintext) => sealEnvelope(keyring, account, plaintext),
      clock: systemClock,
      random,
      settings: { ...DEFAULT_ACCOUNT_SETTINGS, syncIntervalMs: 0, idleMs: 3_600_000 },
      logger,
    },
    crashPolicy: { maxCrashes: 3, windowMs: 600_000, backoffBaseMs: 10, backoffMaxMs: 100 },
    maxConcurrentFullSyncs: options.accounts,
    logger,
  });
  const reads = createReads(store, (account) => supervisor.status(account) === 'failed', FULL_DISCLOSURE);
  const concurrency = options.concurrency ?? 25;
  try {
    await bounded(accounts, 20, (a) => connectAccount(db.pool, a, { apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET }));
    const healthy = { total: of('healthy').length, syncsOk: 0, syncsFailed: 0, failures: {} as Record<string, number> };
    const syncHealthy = async (a: AccountKey): Promise<void> => {
      try {
        await supervisor.sync(a, 'incremental', { signal: deadlineSignal(boundMs) });
        healthy.syncsOk += 1;
      } catch (error) {
        healthy.syncsFailed += 1;
        const name = error instanceof Error ? error.name : typeof error;
        healthy.failures[name] = (healthy.failures[name] ?? 0) + 1;
      }
    };
    const queryRounds = options.queryRounds ?? 3;
    const timeQueries = async (samples: number[]): Promise<void> => {
      for (let round = 0; round < queryRounds; round += 1) {
        await bounded(of('healthy'), concurrency, async (a) => {
          const t0 = performance.now();
          await reads.performance(a, deadlineSignal(boundMs)).catch(() => undefined);
          samples.push(performance.now() - t0);
        });
      }
    };
    // Calm: healthy and faulty accounts sync with no faults; healthy queries are timed.
    await bounded([...of('healthy'), ...of('faulty')], concurrency, syncHealthy);
    healthy.syncsOk = 0;
    healthy.syncsFailed = 0;
    healthy.failures = {};
    const calmSamples: number[] = [];
    await timeQueries(calmSamples);

    // Storm: faults on, crashers crash repeatedly, healthy accounts sync again and are queried.
    storm = true;
    const faulty = { total: of('faulty').length, completed: 0, typedFailures: 0, untypedFailures: 0, overBound: 0, faultsServed: 0 };
    let slowest = 0;
    const crashing = { total: of('crashing').length, failedState: 0, refusedAsFailed: 0, restartLoops: 0 };
    const stormSamples: number[] = [];
    await Promise.all([
      bounded(of('faulty'), concurrency, async (a) => {
        const t0 = Date.now();
        try {
          await supervisor.sync(a, 'full', { signal: deadlineSignal(boundMs) });
          faulty.completed += 1;
        } catch (error) {
          if (error instanceof ActorError) faulty.typedFailures += 1;
          else faulty.untypedFailures += 1;
        }
        const took = Date.now() - t0;
        slowest = Math.max(slowest, took);
        if (took > boundMs + 1_000) faulty.overBound += 1;
      }),
      bounded(of('crashing'), concurrency, async (a) => {
        for (let i = 0; i < 5; i += 1) {
          const error = await supervisor.sync(a, 'incremental', { signal: deadlineSignal(boundMs) }).then(() => undefined, (e: unknown) => e);
          if (error instanceof AccountFailedError) crashing.refusedAsFailed += 1;
        }
      }),
      bounded(of('healthy'), concurrency, syncHealthy).then(() => timeQueries(stormSamples)),
    ]);
    storm = false;
    faulty.faultsServed = FAULTS.reduce((n, f) => n + stormy.fake.counter(`fault:${f}`), 0);
    // A parked account is not restarted: more asks make no more connector calls.
    const callsBefore = factoryCalls;
    await Promise.all(of('crashing').map((a) => supervisor.sync(a, 'incremental').catch(() => undefined)));
    crashing.restartLoops = factoryCalls - callsBefore;
    crashing.failedState = of('crashing').filter((a) => supervisor.status(a) === 'failed').length;
    const p99CalmMs = p99(calmSamples);
    const p99StormMs = p99(stormSamples);
    return {
      accounts: options.accounts,
      healthy,
      faulty,
      crashing,
      slowestSyncMs: slowest,
      boundMs,
      p99CalmMs: Math.round(p99CalmMs * 100) / 100,
      p99StormMs: Math.round(p99StormMs * 100) / 100,
      p99Ratio: Math.round((p99StormMs / Math.max(p99CalmMs, 0.001)) * 100) / 100,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    await supervisor.shutdown(5_000);
    await pool.close();
    await calm.fake.stop();
    await stormy.fake.stop();
    await db.drop();
    secret.fill(0);
  }
}
