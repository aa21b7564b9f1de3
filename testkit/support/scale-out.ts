// Several service processes on one PostgreSQL (issue 18), for test/reliability/scale-out.test.ts
// (small) and `npm run soak -- scale` (full). Accounts are on the deterministic `simulated` venue,
// which runs inside each service process: which instance synced which account, and when, comes
// from each process's own 'sync finished' / 'sync failed' log lines (pino time, duration), not from
// a venue-side log. Each instance reaches PostgreSQL through its own TCP proxy, which can be frozen.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createConnector } from '../../src/exchanges/registry.js';
import type { AccountKey } from '../../src/domain/types.js';
import { sql } from '../../src/storage/pool.js';
import { createTestDatabase, TEST_SERVER, type TestDatabase } from './database.js';
import { connectAccount, startServiceProcess, TEST_KEY_HEX, TEST_KEY_ID, type ServiceProcess } from './service-process.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { credentials, Metadata } from '@grpc/grpc-js';
import { EnclaveServiceClient, SyncType } from '../../src/grpc/generated/enclave.js';
import { freePort } from './free-port.js';

export type ScaleScenario = 'kill' | 'stop-cont' | 'freeze-db' | 'term' | 'join';

export interface ScaleOutOptions {
  readonly instances: number;
  readonly accounts: number;
  readonly shardCount: number;
  readonly ttlMs: number;
  readonly syncIntervalMs: number;
  /** Run in this order, each followed by a settle period of one sync interval. */
  readonly scenarios: readonly ScaleScenario[];
  /** Also sync the accounts with one instance on a second database and compare published returns. */
  readonly reference: boolean;
  /** How long every account gets for its first sync before the scenarios (default 10 intervals). */
  readonly firstSyncsWithinMs?: number;
  /** After the first syncs, send one ProcessSyncJob to an instance that does not own the account (forwarding). */
  readonly forwardCheck?: boolean;
  readonly log?: (line: string) => void;
}

export interface ScaleOutFigures {
  readonly instances: number;
  readonly accounts: number;
  readonly shardCount: number;
  readonly ttlMs: number;
  readonly syncIntervalMs: number;
  readonly scenarios: readonly ScaleScenario[];
  readonly syncs: number;
  readonly accountsNeverSynced: number;
  /** The ProcessSyncJob sent to a non-owner was served (forwarded to the owner); null: not checked. */
  readonly forwardedSyncServed: boolean | null;
  readonly overlappingSyncs: number;
  readonly staleOwnerCommits: number;
  readonly staleWritesRefused: number;
  readonly takeoverSeconds: readonly number[];
  readonly takeoverBoundSeconds: number;
  /** The longest wait from a successful sync's end to the next successful sync's start (or to the run's end, less one interval). */
  readonly longestGapSeconds: number;
  /** The longest time from a successful sync's end to the next successful sync's end (the next one's duration included). */
  readonly longestGapEndToEndSeconds: number;
  /** The longest gap that began after every account's first sync had ended (the steady state, takeovers included). */
  readonly longestGapAfterFirstSyncsSeconds: number;
  /** When the last account's first sync ended, from the run's start. */
  readonly firstSyncsDoneSeconds: number;
  /** Gaps between successive successful syncs of one account, and how many were over `gapBoundSeconds`. */
  readonly gaps: number;
  readonly gapsOverBound: number;
  readonly gapBoundSeconds: number;
  readonly fillsExpected: number;
  readonly fillsLost: number;
  readonly fillsDuplicated: number;
  readonly fillsUnexpected: number;
  readonly returnsIdenticalToReference: boolean | null;
  readonly shardSpreadAfterJoin: readonly number[] | null;
  readonly seconds: number;
}

interface Instance {
  readonly label: string;
  readonly svc: ServiceProcess;
  readonly instanceId: string;
  readonly proxy: FreezableProxy;
}

interface SyncEvent {
  readonly instance: string;
  readonly account: string;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  readonly error?: string;
}

/** A TCP proxy to PostgreSQL whose traffic can be frozen (bytes held, connections kept open). */
export interface FreezableProxy {
  readonly port: number;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<FreezableProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    if (frozen) { client.pause(); upstream.pause(); }
    const drop = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) { a.pause(); b.pause(); }
    },
    thaw() {
      frozen = false;
      for (const [a, b] of pairs) { a.resume(); b.resume(); }
    },
    async close() {
      for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const logLine = z.object({ msg: z.string(), time: z.number(), account: z.string().optional(), durationMs: z.number().optional(), error: z.string().optional(), instanceId: z.string().optional() }).passthrough();

function parse(line: string): z.infer<typeof logLine> | null {
  if (!line.startsWith('{')) return null;
  try {
    const parsed = logLine.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function syncEvents(instance: Instance): SyncEvent[] {
  const events: SyncEvent[] = [];
  for (const line of instance.svc.lines) {
    const entry = parse(line);
    if (entry === null || entry.account === undefined) continue;
    if (entry.msg === 'sync finished' && entry.durationMs !== undefined) {
      events.push({ instance: instance.instanceId, account: entry.account, start: entry.time - entry.durationMs, end: entry.time, ok: true });
    } else if (entry.msg === 'sync failed') {
      events.push({ instance: instance.instanceId, account: entry.account, start: entry.time, end: entry.time, ok: false, ...(entry.error === undefined ? {} : { error: entry.error }) });
    }
  }
  return events;
}

/** How many accounts these instances have synced successfully at least once (from their logs). */
function accountsSynced(of: readonly Instance[]): number {
  return new Set(of.flatMap(syncEvents).filter((e) => e.ok).map((e) => e.account)).size;
}

const ownedRow = z.object({ owned: z.number().int() });
const countsRow = z.object({ ownerId: z.string(), owned: z.number().int() });
const hourRow = z.object({ line: z.string() });
const returnDigestRow = z.object({ userUid: z.string(), hours: z.number(), digest: z.string() });

export async function runScaleOut(options: ScaleOutOptions): Promise<ScaleOutFigures> {
  const started = Date.now();
  const say = options.log ?? (() => undefined);
  // The checks at the end read every account's rows at once (1,000 accounts: longer than the pool's
  // default 60 s statement timeout, which ended the first 1,000-account soak before its figures).
  const harnessPool = { pool: { statementTimeoutMs: 900_000 } };
  const db = await createTestDatabase(undefined, harnessPool);
  let reference: TestDatabase | null = null;
  const instances: Instance[] = [];
  const retired: Instance[] = [];
  const accounts: AccountKey[] = Array.from({ length: options.accounts }, (_, i) => ({ userUid: `scale-${String(i).padStart(5, '0')}`, exchange: 'simulated' }));
  const serverPort = Number(new URL(TEST_SERVER).port || 5432);
  let counter = 0;
  const env = (proxyPort: number, dbName: string, grpcPort: number): Record<string, string> => ({
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${proxyPort}/${dbName}`,
    SHARD_COUNT: String(options.shardCount),
    LEASE_TTL_MS: String(options.ttlMs),
    SYNC_INTERVAL_MS: String(options.syncIntervalMs),
    ACTOR_IDLE_MS: String(Math.max(1_000, Math.floor(options.syncIntervalMs / 2))),
    // Where the other instances forward commands for this one's shards: its real gRPC address.
    ENCLAVE_HOST: '127.0.0.1',
    ENCLAVE_PORT: String(grpcPort),
    INSTANCE_ADDR: `127.0.0.1:${grpcPort}`,
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: '5000',
    POOL_THREADS: '1',
  });
  const launch = async (): Promise<Instance> => {
    counter += 1;
    const label = `i${counter}`;
    const proxy = await startProxy(serverPort);
    const svc = await startServiceProcess(env(proxy.port, db.name, await freePort()), { startTimeoutMs: 120_000 });
    const startLine = svc.lines.map(parse).find((e) => e?.msg === 'enclave worker started');
    const instance = { label, svc, instanceId: startLine?.instanceId ?? label, proxy };
    instances.push(instance);
    say(`started ${label} (${instance.instanceId})`);
    return instance;
  };
  const retire = (instance: Instance): void => {
    instances.splice(instances.indexOf(instance), 1);
    retired.push(instance);
  };
  const liveOwned = async (excluding: readonly string[]): Promise<number> => db.pool.oneFirst(sql.type(ownedRow)`
    SELECT count(*)::int AS owned FROM placement WHERE expires_at > now() AND owner_id IS NOT NULL
      AND NOT (owner_id = ANY(${sql.array([...excluding], 'text')}))`);
  /** Seconds from `since` until every shard is held by an instance other than `gone`. */
  const waitOwned = async (gone: readonly string[], since: number, limitMs: number): Promise<number> => {
    while (Date.now() - since < limitMs) {
      if (await liveOwned(gone) === options.shardCount) return (Date.now() - since) / 1000;
      await sleep(100);
    }
    return Number.POSITIVE_INFINITY;
  };
  const disruptions: { readonly instance: string; readonly from: number; readonly to: number }[] = [];
  const takeovers: number[] = [];
  let spread: number[] | null = null;

  try {
    for (const account of accounts) await connectAccount(db.pool, account, { apiKey: `key-${account.userUid}`, secret: 'simulated' });
    for (let i = 0; i < options.instances; i++) await launch();
    await waitOwned([], Date.now(), 10 * options.ttlMs);
    // Every account has synced once before the first scenario.
    const firstSyncsBy = Date.now() + (options.firstSyncsWithinMs ?? 10 * options.syncIntervalMs);
    const syncedOnce = (): number => accountsSynced([...instances, ...retired]);
    while (syncedOnce() < accounts.length && Date.now() < firstSyncsBy) await sleep(500);
    say(`first syncs: ${syncedOnce()}/${accounts.length}`);
    let forwardedSyncServed: boolean | null = null;
    if (options.forwardCheck === true) {
      const account = accounts[0]!;
      const owner = await db.pool.maybeOneFirst(sql.type(z.object({ ownerId: z.string() }))`
        SELECT p.owner_id AS "ownerId" FROM placement p JOIN exchange_connections c ON c.shard = p.shard
        WHERE c.user_uid = ${account.userUid} AND c.exchange = ${account.exchange} AND p.expires_at > now()`);
      const other = instances.find((i) => i.instanceId !== owner);
      if (owner !== null && other !== undefined) {
        const client = new EnclaveServiceClient(`127.0.0.1:${other.svc.grpcPort}`, credentials.createInsecure());
        forwardedSyncServed = await new Promise<boolean>((resolve) => {
          client.processSyncJob({ userUid: account.userUid, exchange: account.exchange, type: SyncType.SYNC_TYPE_INCREMENTAL }, new Metadata(), { deadline: Date.now() + 60_000 }, (error) => resolve(error === null));
        });
        client.close();
      }
      say(`forwarded sync served: ${String(forwardedSyncServed)}`);
    }
    const settle = () => sleep(options.syncIntervalMs);

    for (const scenario of options.scenarios) {
      const victim = instances[0]!;
      say(`scenario ${scenario} on ${victim.label}`);
      switch (scenario) {
        case 'kill': {
          const at = Date.now();
          victim.svc.child.kill('SIGKILL');
          await victim.svc.exited;
          retire(victim);
          takeovers.push(await waitOwned([victim.instanceId], at, 10 * options.ttlMs));
          await launch();
          break;
        }
        case 'stop-cont': {
          const at = Date.now();
          victim.svc.child.kill('SIGSTOP');
          await sleep(2 * options.ttlMs);
          victim.svc.child.kill('SIGCONT');
          disruptions.push({ instance: victim.instanceId, from: at, to: Date.now() });
          break;
        }
        case 'freeze-db': {
          const at = Date.now();
          victim.proxy.freeze();
          await sleep(2 * options.ttlMs);
          victim.proxy.thaw();
          disruptions.push({ instance: victim.instanceId, from: at, to: Date.now() });
          break;
        }
        case 'term': {
          const exit = await victim.svc.stop('SIGTERM');
          retire(victim);
          say(`SIGTERM exit ${exit.code} after ${exit.afterMs} ms`);
          await launch();
          break;
        }
        case 'join': {
          await launch();
          await sleep(6 * options.ttlMs);
          const counts = await db.pool.any(sql.type(countsRow)`
            SELECT owner_id AS "ownerId", count(*)::int AS owned FROM placement WHERE expires_at > now() AND owner_id IS NOT NULL GROUP BY owner_id`);
          spread = counts.map((c) => c.owned).sort((a, b) => a - b);
          break;
        }
        default:
          throw new Error(`unknown scenario ${String(scenario)}`);
      }
      await settle();
    }
    await settle();
    const endedAt = Date.now();
    for (const instance of [...instances]) {
      await instance.svc.stop('SIGTERM');
      retire(instance);
    }

    // Overlaps and stale commits, from every instance's sync log.
    const events = retired.flatMap(syncEvents);
    const byAccount = new Map<string, SyncEvent[]>();
    for (const e of events) byAccount.set(e.account, [...(byAccount.get(e.account) ?? []), e]);
    let overlapping = 0;
    let longestGap = 0;
    let longestGapEndToEnd = 0;
    // Onboarding (every account's first sync, a year of history each) apart from the steady state.
    const firstEnds = [...byAccount.values()].map((list) => Math.min(...list.filter((e) => e.ok).map((e) => e.end))).filter(Number.isFinite);
    const firstSyncsDone = firstEnds.length === 0 ? started : Math.max(...firstEnds);
    let longestGapAfterFirstSyncs = 0;
    let gaps = 0;
    let gapsOverBound = 0;
    const gapBoundMs = 1.1 * options.syncIntervalMs + options.ttlMs + options.ttlMs / 3;
    for (const list of byAccount.values()) {
      const ok = list.filter((e) => e.ok).sort((a, b) => a.start - b.start);
      for (let i = 1; i < ok.length; i++) {
        if (ok[i]!.instance !== ok[i - 1]!.instance && ok[i]!.start < ok[i - 1]!.end) overlapping += 1;
        // The account's own interval runs from a sync's end to the next one's start (the actor
        // schedules from the end): the time it waited with no sync under way. End to end adds the
        // next sync's own duration, reported apart.
        const gap = ok[i]!.start - ok[i - 1]!.end;
        longestGap = Math.max(longestGap, gap);
        longestGapEndToEnd = Math.max(longestGapEndToEnd, ok[i]!.end - ok[i - 1]!.end);
        if (ok[i - 1]!.end >= firstSyncsDone) longestGapAfterFirstSyncs = Math.max(longestGapAfterFirstSyncs, gap);
        gaps += 1;
        if (gap > gapBoundMs) gapsOverBound += 1;
      }
      const last = ok.at(-1);
      if (last !== undefined) longestGap = Math.max(longestGap, endedAt - options.syncIntervalMs - last.end);
    }
    if (process.env.SCALE_DEBUG === '1') {
      // What each instance went through (lease trouble and its consequences), from its own log.
      const watched = ['shard leases lost: stopping their actors', 'lease renewal failed', 'shard leases renewed after the acting deadline: resuming them',
        'scheduled sync deferred: the lease renewal is late', 'scheduled sync failed', 'account actor crashed'];
      for (const instance of retired) {
        const counts = new Map<string, number>();
        for (const line of instance.svc.lines) {
          const entry = parse(line);
          if (entry === null) continue;
          const key = entry.msg === 'sync failed' ? `sync failed: ${entry.error ?? '?'}` : watched.includes(entry.msg) ? entry.msg : null;
          if (key !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        process.stderr.write(`${instance.label} ${instance.instanceId.slice(0, 4)}: ${JSON.stringify(Object.fromEntries(counts))}\n`);
      }
      for (const [account, list] of byAccount) {
        process.stderr.write(`${account}: ${list.sort((a, b) => a.start - b.start).map((e) => `${e.instance.slice(0, 4)} ${((e.start - started) / 1000).toFixed(1)}-${((e.end - started) / 1000).toFixed(1)}${e.ok ? '' : ` ${e.error ?? 'failed'}`}`).join(' | ')}\n`);
      }
    }
    const staleCommits = events.filter((e) => e.ok && disruptions.some((d) => d.instance === e.instance && e.start < d.from && e.end > d.to)).length;
    const staleRefused = events.filter((e) => !e.ok && (e.error === 'ShardLeaseLostError' || e.error === 'StaleGenerationError')).length;

    // Fills against the venue's own data, up to the earliest last successful sync start.
    const lastStarts = [...byAccount.values()].map((list) => list.filter((e) => e.ok).map((e) => e.start)).filter((starts) => starts.length > 0).map((starts) => Math.max(...starts));
    const neverSynced = accounts.length - lastStarts.length;
    const cutoff = lastStarts.length === 0 ? started : Math.min(...lastStarts);
    // The service seals fills (sealed storage): read them as the enclave does, with its test key.
    const keys = await deriveEnclaveKeys({ currentId: TEST_KEY_ID, secrets: new Map([[TEST_KEY_ID, Buffer.from(TEST_KEY_HEX, 'hex')]]) });
    const reader = createAccountStore(db.pool, { sealed: createSealedStore(createAccountSealer({ currentId: TEST_KEY_ID, accountDataKey: (a, id) => keys.accountDataKey(a, id) })) });
    const counted = new Map<string, number>();
    for (const account of accounts) {
      for (const fill of await reader.loadFills(account, 0)) {
        if (fill.executedAt >= cutoff) continue;
        const id = `${account.userUid}/${fill.exchangeTradeId}`;
        counted.set(id, (counted.get(id) ?? 0) + 1);
      }
    }
    const stored = [...counted].map(([id, n]) => ({ id, n }));
    const storedIds = new Set(counted.keys());
    const duplicated = stored.filter((r) => r.n > 1).length;
    let expected = 0;
    let lost = 0;
    const expectedIds = new Set<string>();
    for (const account of accounts) {
      const venue = createConnector(account, { apiKey: `key-${account.userUid}`, secret: 'simulated' }, { enclaveMode: false, now: () => cutoff });
      for await (const page of venue.fetchFills(null)) {
        for (const fill of page.items) {
          if (fill.executedAt >= cutoff) continue;
          expected += 1;
          expectedIds.add(`${account.userUid}/${fill.exchangeTradeId}`);
          if (!storedIds.has(`${account.userUid}/${fill.exchangeTradeId}`)) lost += 1;
        }
      }
      await venue.close();
    }
    const unexpected = [...storedIds].filter((id) => !expectedIds.has(id)).length;
    say(`before the reference run: never synced ${neverSynced}, overlapping ${overlapping}, stale commits ${staleCommits}, refused ${staleRefused}, takeovers ${takeovers.map((x) => x.toFixed(1)).join('/')} s, longest gap ${(longestGap / 1000).toFixed(1)} s (end to end ${(longestGapEndToEnd / 1000).toFixed(1)} s), fills expected ${expected} lost ${lost} duplicated ${duplicated} unexpected ${unexpected}`);

    // One instance on its own database, the same accounts: published returns must be identical.
    let identical: boolean | null = null;
    if (options.reference) {
      reference = await createTestDatabase(undefined, harnessPool);
      for (const account of accounts) await connectAccount(reference.pool, account, { apiKey: `key-${account.userUid}`, secret: 'simulated' });
      const proxy = await startProxy(serverPort);
      const svc = await startServiceProcess(env(proxy.port, reference.name, await freePort()), { startTimeoutMs: 120_000 });
      const refInstance: Instance = { label: 'reference', svc, instanceId: 'reference', proxy };
      // Until every account has synced once: one process runs all the first syncs (a year each) on
      // its own, which at 1,000 accounts outlasted the 10 intervals once allowed here.
      const refSynced = (): number => accountsSynced([refInstance]);
      const refStarted = Date.now();
      const by = refStarted + Math.max(10 * options.syncIntervalMs, 2_000 * accounts.length);
      let reported = refStarted;
      while (refSynced() < accounts.length && Date.now() < by) {
        await sleep(500);
        if (Date.now() - reported >= 60_000) {
          reported = Date.now();
          say(`reference run: ${refSynced()}/${accounts.length} synced after ${Math.round((reported - refStarted) / 1000)} s`);
        }
      }
      const referenceSynced = refSynced();
      await svc.stop('SIGTERM');
      await proxy.close();
      // Hours both runs have closed: before the hour of the earliest last sync.
      const hourCut = new Date(Math.floor(cutoff / 3_600_000) * 3_600_000 - 3_600_000).toISOString();
      // One digest per account, computed by the database: 1,000 accounts hold ~9 M hours, which as
      // rows in this process outgrew its heap (the first 1,000-account run ended there).
      const digests = async (pool: TestDatabase['pool']) => (await pool.any(sql.type(returnDigestRow)`
        SELECT user_uid AS "userUid", count(*)::int AS hours,
               md5(string_agg(extract(epoch FROM hour_start)::text || '|' || return::text || '|' || cumulative_return::text, ',' ORDER BY hour_start)) AS digest
        FROM hourly_returns WHERE hour_start < ${hourCut}::timestamptz GROUP BY user_uid ORDER BY 1`)).map((r) => `${r.userUid}|${r.hours}|${r.digest}`);
      const [ours, theirs] = await Promise.all([digests(db.pool), digests(reference.pool)]);
      identical = referenceSynced === accounts.length && ours.length > 0 && ours.length === theirs.length && ours.every((row, i) => row === theirs[i]);
      // A reference that could not sync every account within its time differs for that reason alone:
      // the differences are counted among the accounts it did publish, and the rest said apart.
      const accountOf = (row: string): string => row.slice(0, row.indexOf('|'));
      const theirByAccount = new Map(theirs.map((row) => [accountOf(row), row]));
      const compared = ours.filter((row) => theirByAccount.has(accountOf(row)));
      const differing = compared.filter((row) => theirByAccount.get(accountOf(row)) !== row);
      say(`reference run: ${referenceSynced}/${accounts.length} accounts synced in ${Math.round((Date.now() - refStarted) / 1000)} s; of ${compared.length} accounts both published, ${differing.length} differ; ${ours.length - compared.length} published here only, ${theirs.length - compared.length} there only`);
      if (process.env.SCALE_DEBUG === '1') {
        // Where the first few differing accounts part: the first hour whose row is not the same.
        const hours = async (pool: TestDatabase['pool'], userUid: string) => (await pool.any(sql.type(hourRow)`
          SELECT extract(epoch FROM hour_start)::text || '|' || return::text || '|' || cumulative_return::text || '|' || flags::text AS line
          FROM hourly_returns WHERE user_uid = ${userUid} AND hour_start < ${hourCut}::timestamptz ORDER BY hour_start`)).map((r) => r.line);
        for (const row of differing.slice(0, 5)) {
          const userUid = accountOf(row);
          const [a, b] = await Promise.all([hours(db.pool, userUid), hours(reference.pool, userUid)]);
          const at = a.findIndex((line, i) => line !== b[i]);
          say(`differs: ${userUid} (${a.length} hours here, ${b.length} there) first at #${at}: here ${a[at] ?? '-'} there ${b[at] ?? '-'}`);
        }
      }
    }

    return {
      instances: options.instances,
      accounts: options.accounts,
      shardCount: options.shardCount,
      ttlMs: options.ttlMs,
      syncIntervalMs: options.syncIntervalMs,
      scenarios: options.scenarios,
      syncs: events.filter((e) => e.ok).length,
      accountsNeverSynced: neverSynced,
      forwardedSyncServed,
      overlappingSyncs: overlapping,
      staleOwnerCommits: staleCommits,
      staleWritesRefused: staleRefused,
      takeoverSeconds: takeovers.map((s) => Math.round(s * 10) / 10),
      takeoverBoundSeconds: (options.ttlMs + options.ttlMs / 3) / 1000,
      longestGapSeconds: Math.round(longestGap / 100) / 10,
      longestGapEndToEndSeconds: Math.round(longestGapEndToEnd / 100) / 10,
      longestGapAfterFirstSyncsSeconds: Math.round(longestGapAfterFirstSyncs / 100) / 10,
      firstSyncsDoneSeconds: Math.round((firstSyncsDone - started) / 1000),
      gaps,
      gapsOverBound,
      // The actor's jitter is ±10% of the interval, plus one takeover.
      gapBoundSeconds: Math.round(gapBoundMs / 100) / 10,
      fillsExpected: expected,
      fillsLost: lost,
      fillsDuplicated: duplicated,
      fillsUnexpected: unexpected,
      returnsIdenticalToReference: identical,
      shardSpreadAfterJoin: spread,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    for (const instance of [...instances]) {
      instance.svc.child.kill('SIGCONT');
      await instance.svc.stop('SIGKILL');
    }
    for (const instance of retired) await instance.proxy.close();
    for (const instance of instances) await instance.proxy.close();
    await reference?.drop();
    await db.drop();
  }
}

