// `npm run bench -- grpc`: GetAggregatedMetrics latency and CPU per call of the service against the
// floor this machine gives at the same moment (issue 19, item 4). Three processes besides this one:
// - the service, started as `npm start` starts it (node --max-semi-space-size=32 dist/main.js,
//   built first unless --no-build) on a throw-away PostgreSQL database, with --accounts accounts
//   registered through gRPC (HPKE-sealed, the `simulated` venue) and their metrics rows seeded in
//   storage, so every read is answered from storage (no actor, no credential);
// - a bare grpc-js server (bench/support/bare-grpc-server.ts, same flag) answering a constant;
// - the load client (bench/support/grpc-load.ts) in its own process, open loop at --rate req/s.
// The two targets are measured in alternating windows (--windows pairs of --seconds each), so both
// see the same machine load. CPU per call is the server process's utime + stime from
// /proc/<pid>/stat over its windows (for the service also its database backends, reported apart).
// Goals: service p99 ≤ 1.2× bare p99, service CPU per call ≤ 1.3× bare.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import pg from 'pg';
import { sealCredential } from '../src/crypto/sealed-intake.js';
import { DisclosureLevel, EnclaveServiceClient } from '../src/grpc/generated/enclave.js';
import { createTestDatabase } from '../testkit/support/database.js';
import { unary } from '../testkit/support/grpc-client.js';
import type { LoadPlan, LoadResult } from './support/grpc-load.js';

const ROOT = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    windows: { type: 'string', default: '3' },
    accounts: { type: 'string', default: '200' },
    'no-build': { type: 'boolean', default: false },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WINDOWS = Number(values.windows);
const ACCOUNTS = Number(values.accounts);
const USER_PREFIX = 'grpc_bench_';

function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
}

/** Starts a child and resolves with the first stdout line `pick` accepts. */
function startChild(args: string[], env: NodeJS.ProcessEnv, pick: (line: string) => number | null): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    let rest = '';
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const port = pick(line);
      if (port !== null) resolve({ child, port });
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) onLine(line);
      });
    }
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${tail.join('\n')}`)));
  });
}

function runLoad(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/support/grpc-load.ts', JSON.stringify(plan)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => { out += chunk; });
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult) : reject(new Error(`load client exited ${code}`))));
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

interface Tally { latencies: number[]; errors: number; requests: number; serverCpuMs: number; databaseCpuMs: number }
const tally = (): Tally => ({ latencies: [], errors: 0, requests: 0, serverCpuMs: 0, databaseCpuMs: 0 });

if (!values['no-build']) {
  console.log('building dist/ (npm start runs the build first too)…');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}
const database = await createTestDatabase(undefined, { migrate: false });
const admin = new pg.Client({ connectionString: database.url });
const children: ChildProcess[] = [];
try {
  const serviceEnv = {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: database.url, ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    ENCLAVE_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', DEMO: 'false', SYNC_INTERVAL_MS: '0',
  };
  // Exactly what `npm start` runs after its build.
  const service = await startChild(['--max-semi-space-size=32', 'dist/main.js'], serviceEnv, (line) => {
    if (!line.includes('"enclave worker started"')) return null;
    return (JSON.parse(line) as { grpcPort: number }).grpcPort;
  });
  children.push(service.child);
  const bare = await startChild(['--max-semi-space-size=32', '--import', 'tsx', 'bench/support/bare-grpc-server.ts'], { ...process.env }, (line) => {
    try { return (JSON.parse(line) as { port?: number }).port ?? null; } catch { return null; }
  });
  children.push(bare.child);

  // Accounts registered through the real path; their metrics seeded in storage (a year of syncs per
  // account would take minutes and is what `npm run bench -- capacity` measures).
  const client = new EnclaveServiceClient(`127.0.0.1:${service.port}`, credentials.createInsecure());
  const identity = await unary(client.getEnclaveIdentity.bind(client), {});
  for (let i = 0; i < ACCOUNTS; i++) {
    const account = { userUid: `${USER_PREFIX}${i}`, exchange: 'simulated' } as const;
    const sealed = await sealCredential(identity.hpkePublicKey, account, { apiKey: `k${i}`, secret: 'grpc-bench' });
    await unary(client.registerConnection.bind(client), { ...account, sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: DisclosureLevel.DISCLOSURE_LEVEL_UNSPECIFIED });
  }
  client.close();
  await admin.connect();
  await admin.query(`
    INSERT INTO performance_stats (user_uid, exchange, computed_until, hours, cumulative_return, annualized_return, annualized_volatility,
      max_drawdown, max_drawdown_peak_hour, max_drawdown_trough_hour, sharpe, sortino, calmar, positive_hour_share, best_hour, worst_hour,
      total_fees, realized_pnl, unrealized_pnl)
    SELECT user_uid, exchange, now(), 8760, 0.12 + random() / 10, 0.12, 0.3, 0.08, now() - interval '10 days', now() - interval '9 days',
      1.1, 1.3, 1.5, 0.51, 0.01, -0.01, 12.5, 100, -3
    FROM exchange_connections`);
  const backendPids = async (): Promise<number[]> => (await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)).rows.map((r) => r.pid);
  const backendCpu = async (): Promise<Map<number, number>> => {
    const out = new Map<number, number>();
    for (const pid of await backendPids()) { try { out.set(pid, cpuMsOf(pid)); } catch { /* gone */ } }
    return out;
  };

  const targets = [
    { name: 'bare', port: bare.port, pid: bare.child.pid!, tally: tally(), database: false },
    { name: 'service', port: service.port, pid: service.child.pid!, tally: tally(), database: true },
  ];
  // Warm both (JIT, connections, the pool's connections to the database), discarded.
  for (const t of targets) await runLoad({ port: t.port, rate: RATE, seconds: 2, warmupSeconds: 1, accounts: ACCOUNTS, userPrefix: USER_PREFIX, exchange: 'simulated' });
  for (let w = 0; w < WINDOWS; w++) {
    for (const t of w % 2 === 0 ? targets : [...targets].reverse()) {
      const cpu0 = cpuMsOf(t.pid);
      const db0 = t.database ? await backendCpu() : new Map<number, number>();
      const result = await runLoad({ port: t.port, rate: RATE, seconds: SECONDS, warmupSeconds: 0.5, accounts: ACCOUNTS, userPrefix: USER_PREFIX, exchange: 'simulated' });
      // Includes the half-second warm-up of the window: CPU per call is over every call sent.
      t.tally.serverCpuMs += cpuMsOf(t.pid) - cpu0;
      if (t.database) for (const [pid, ms] of await backendCpu()) t.tally.databaseCpuMs += ms - (db0.get(pid) ?? 0);
      t.tally.latencies.push(...result.latenciesMs);
      t.tally.errors += result.errors;
      t.tally.requests += Math.round(RATE * (SECONDS + 0.5));
      console.log(`window ${w + 1} ${t.name}: ${result.latenciesMs.length} ok, ${result.errors} errors, p99 ${r3(percentile([...result.latenciesMs].sort((a, b) => a - b), 99))} ms`);
    }
  }
  const summary = (t: Tally) => {
    const sorted = [...t.latencies].sort((a, b) => a - b);
    return {
      p50Ms: r3(percentile(sorted, 50)), p99Ms: r3(percentile(sorted, 99)), p999Ms: r3(percentile(sorted, 99.9)), errors: t.errors, requests: t.requests,
      serverCpuUsPerCall: Math.round((t.serverCpuMs * 1000) / t.requests), databaseCpuUsPerCall: Math.round((t.databaseCpuMs * 1000) / t.requests),
    };
  };
  const bareSummary = summary(targets[0]!.tally);
  const serviceSummary = summary(targets[1]!.tally);
  const ratios = {
    p50: r3(serviceSummary.p50Ms / bareSummary.p50Ms), p99: r3(serviceSummary.p99Ms / bareSummary.p99Ms), p999: r3(serviceSummary.p999Ms / bareSummary.p999Ms),
    cpuPerCall: r3(serviceSummary.serverCpuUsPerCall / bareSummary.serverCpuUsPerCall),
    cpuPerCallWithDatabase: r3((serviceSummary.serverCpuUsPerCall + serviceSummary.databaseCpuUsPerCall) / bareSummary.serverCpuUsPerCall),
  };
  const loadAverage = loadavg()[0]!;
  console.log(`service/bare: p99 ${ratios.p99}× (goal ≤ 1.2), CPU per call ${ratios.cpuPerCall}× (goal ≤ 1.3; with its database ${ratios.cpuPerCallWithDatabase}×)`);
  console.log(JSON.stringify({
    bench: 'grpc', rate: RATE, seconds: SECONDS, windows: WINDOWS, accounts: ACCOUNTS, bare: bareSummary, service: serviceSummary, ratios,
    goals: { p99Ratio: 1.2, cpuPerCallRatio: 1.3 }, loadAverage: r3(loadAverage), cores: availableParallelism(),
  }));
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((resolve) => c.once('exit', resolve)) : undefined)));
  await admin.end().catch(() => undefined);
  await database.drop();
}
