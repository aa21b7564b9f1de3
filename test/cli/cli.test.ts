// The ops CLI against the real service in-process (PostgreSQL, actors, gRPC) with the `simulated`
// venue. `add` runs as a child process so its argv and output can be checked for the secret.
import anyTest, { type TestFn } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { runCli } from '../../src/cli/main.js';
import { sql } from '../../src/storage/pool.js';
import { accountRowCounts, startServiceHarness, type ServiceHarness } from '../app/service-harness.js';

const seriesRow = z.object({ t: z.string(), return: z.number(), flags: z.number() });
const test = anyTest as TestFn<{ h: ServiceHarness; dir: string }>;
const root = fileURLToPath(new URL('../..', import.meta.url));

const CANARY_KEY = 'CLI-CANARY-KEY-51c0de';
const CANARY_SECRET = 'CLI-CANARY-SECRET-e6a2f9d7';

test.before(async (t) => {
  t.context = { h: await startServiceHarness(), dir: mkdtempSync(join(tmpdir(), 'cli-')) };
});
test.after.always(async (t) => {
  await t.context.h?.close();
  if (t.context.dir !== undefined) rmSync(t.context.dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function cli(h: ServiceHarness, args: readonly string[], stdin = ''): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '--target', h.target], {
    out: (text) => { out += text; },
    err: (text) => { err += text; },
    readStdin: async () => Buffer.from(stdin),
    progressStream: new Writable({ write: (_chunk, _encoding, done) => done() }),
    env: {},
  });
  return { code, out, err };
}

function runChild(args: readonly string[], stdin: string): Promise<Run & { argv: readonly string[] }> {
  const argv = ['--import', 'tsx', 'src/cli/main.ts', ...args];
  const child = spawn(process.execPath, argv, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ENCLAVE_TARGET: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString('utf8'); });
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString('utf8'); });
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err, argv: child.spawnargs }));
  });
}

test.serial('add reads the key and secret from stdin, and the secret appears in no output, argv or service log', async (t) => {
  const { h } = t.context;
  // At `full`: the tests below read exact counts, equity and flows.
  const run = await runChild(['add', 'cli-user', 'simulated', '--insecure-dev', '--disclosure', 'full', '--target', h.target], `${CANARY_KEY}\n${CANARY_SECRET}\n`);
  t.is(run.code, 0, run.err);
  t.regex(run.out, /added cli-user on simulated: active \(unverified service: its permission check is not evidence\)/u);
  for (const text of [run.out, run.err, run.argv.join(' '), h.lines.join('\n')]) {
    t.false(text.includes(CANARY_SECRET));
    t.false(text.includes(CANARY_KEY));
  }
  t.true(h.lines.some((line) => line.includes('connection registered')), 'the service saw the registration');
  t.is((await accountRowCounts(h.db, 'cli-user', 'simulated'))['exchange_connections'], 1);
});

test.serial('add reads a JSON credential from --key-file', async (t) => {
  const { h, dir } = t.context;
  const file = join(dir, 'key.json');
  writeFileSync(file, JSON.stringify({ apiKey: CANARY_KEY, secret: CANARY_SECRET }), { mode: 0o600 });
  const run = await cli(h, ['add', 'cli-file-user', 'simulated', '--insecure-dev', '--key-file', file]);
  t.is(run.code, 0, run.err);
  t.false(run.out.includes(CANARY_SECRET));
  t.is((await accountRowCounts(h.db, 'cli-file-user', 'simulated'))['exchange_connections'], 1);
});

test.serial('add refuses a trade-enabled key with one clear line and a non-zero exit', async (t) => {
  const run = await cli(t.context.h, ['add', 'cli-trader', 'simulated', '--insecure-dev'], `trading-${CANARY_KEY}\n${CANARY_SECRET}\n`);
  t.is(run.code, 1);
  const [warning, refusal, ...rest] = run.err.split('\n');
  t.regex(warning ?? '', /^enclave: WARNING --insecure-dev: the service is NOT verified/u);
  t.regex(`${refusal}\n`, /^enclave: INVALID_ARGUMENT: the API key has trading rights \(spot_trade\).*\n$/u);
  t.deepEqual(rest, [''], 'one line after the warning');
  t.false(run.err.includes(CANARY_KEY));
  t.is(run.out, '');
});

test.serial('list shows the connected accounts with their status', async (t) => {
  const run = await cli(t.context.h, ['list']);
  t.is(run.code, 0, run.err);
  t.regex(run.out, /user\s+exchange\s+status/u);
  t.regex(run.out, /cli-user\s+simulated\s+active/u);
  t.regex(run.out, /cli-file-user\s+simulated\s+active/u);
  t.false(run.out.includes('cli-trader'));
});

test.serial('sync reports what the sync stored', async (t) => {
  const run = await cli(t.context.h, ['sync', 'cli-user', 'simulated']);
  t.is(run.code, 0, run.err);
  const match = /sync completed[^:]*: (\d+) new fills, (\d+) new cash flows, (\d+) hours computed; equity [\d.]+ at \d{4}-/u.exec(run.out);
  t.truthy(match, run.out);
  t.true(Number(match?.[1]) > 0);
  t.is(Number(match?.[2]), 1, 'the simulated deposit');
  t.true(Number(match?.[3]) > 24);
});

test.serial('statement writes a signed statement of the synced account that verify-statement accepts, with the published series', async (t) => {
  const { h, dir } = t.context;
  const file = join(dir, 'statement.json');
  const run = await cli(h, ['statement', 'cli-user', 'simulated', '--out', file]);
  t.is(run.code, 0, run.err);
  const statement = JSON.parse(readFileSync(file, 'utf8')) as { statement: { account: string; chain: { hours: number } } };
  t.regex(statement.statement.account, /^acct_/u);
  t.false(readFileSync(file, 'utf8').includes('cli-user'));
  const { rows } = await h.db.pool.query(sql.type(seriesRow)`
    SELECT (extract(epoch FROM hour_start) * 1000)::bigint::text AS t, return, flags FROM hourly_returns WHERE user_uid = 'cli-user' ORDER BY hour_start`);
  const series = join(dir, 'series.json');
  writeFileSync(series, JSON.stringify(rows.map((r) => ({ hourStartMs: Number(r.t), return: r.return, flags: r.flags }))));
  const verified = await cli(h, ['verify-statement', file, '--series', series]);
  t.is(verified.code, 0, verified.err);
  t.regex(verified.out, new RegExp(`hashes to the chain head \\(${statement.statement.chain.hours} hours\\)`, 'u'));
});

test.serial('returns prints a table and a chart, and writes the curve as SVG on request', async (t) => {
  const { h, dir } = t.context;
  const svg = join(dir, 'curve.svg');
  const run = await cli(h, ['returns', 'cli-user', 'simulated', '--last', '5', '--svg', svg]);
  t.is(run.code, 0, run.err);
  t.regex(run.out, /\d+ hourly returns; the last 5:/u);
  t.regex(run.out, /hour \(UTC\)\s+return\s+cumulative\s+equity\s+net flow/u);
  t.regex(run.out, /Growth of 1 unit:\n.*[┤┼]/u);
  t.regex(run.out, /equity curve written to /u);
  const text = readFileSync(svg, 'utf8');
  t.true(text.startsWith('<svg'));
  t.regex(text, /<polyline [^>]*points="[\d., ]+"/u);
  const empty = await cli(h, ['returns', 'cli-user', 'simulated', '--from', '2020-01-01T00:00:00Z', '--to', '2020-01-02T00:00:00Z']);
  t.is(empty.code, 0);
  t.regex(empty.out, /no published hourly returns/u);
});

test.serial('metrics prints the metrics table', async (t) => {
  const run = await cli(t.context.h, ['metrics', 'cli-user', 'simulated']);
  t.is(run.code, 0, run.err);
  for (const name of ['hours', 'cumulative return', 'annualized volatility', 'max drawdown', 'sharpe', 'total fees']) t.regex(run.out, new RegExp(`${name}\\s`, 'u'));
});

test.serial('report prints the period figures, the monthly table and the notes, for one account or all of them', async (t) => {
  const run = await cli(t.context.h, ['report', 'cli-user', 'simulated', '--period', '1Y', '--benchmark', 'BTC']);
  t.is(run.code, 0, run.err);
  t.regex(run.out, /simulated · 1Y .* in USDT \(base USDT\)/u);
  for (const name of ['time-weighted return', 'money-weighted return', 'annualized return', '3-year SD \\(GIPS, monthly\\)', 'max drawdown', 'flagged hours', 'month']) t.regex(run.out, new RegExp(`${name}\\s`, 'u'));
  t.regex(run.out, /note: /u);
  const all = await cli(t.context.h, ['report', 'cli-user', '--currency', 'BTC']);
  t.is(all.code, 0, all.err);
  t.regex(all.out, /in BTC \(base USDT\)/u);
  const bad = await cli(t.context.h, ['report', 'cli-user', 'simulated', '--period', '2W']);
  t.is(bad.code, 2);
  t.regex(bad.err, /--period must be/u);
});

test.serial('errors are one line with a non-zero exit: unknown account, bad usage, unreachable service', async (t) => {
  const { h } = t.context;
  const unknown = await cli(h, ['metrics', 'nobody', 'simulated']);
  t.is(unknown.code, 1);
  t.is(unknown.err, 'enclave: NOT_FOUND: no account is connected for this user and exchange\n');
  const usage = await cli(h, ['add', 'someone', 'simulated', '--secret', CANARY_SECRET]);
  t.is(usage.code, 2);
  t.false(usage.err.includes(CANARY_SECRET));
  const badExchange = await cli(h, ['metrics', 'someone', 'nasdaq']);
  t.is(badExchange.code, 2);
  t.regex(badExchange.err, /^enclave: exchange must be one of /u);
  let err = '';
  const down = await runCli(['list', '--target', '127.0.0.1:1'], { out: () => undefined, err: (text) => { err += text; }, readStdin: async () => Buffer.alloc(0), env: {} });
  t.is(down, 1);
  t.regex(err, /^enclave: UNAVAILABLE: .*\n$/u);
});

test.serial('revive brings a parked account back: list names the reason class, then shows it active', async (t) => {
  const { h } = t.context;
  const notParked = await cli(h, ['revive', 'cli-user', 'simulated']);
  t.is(notParked.code, 0, notParked.err);
  t.is(notParked.out, 'cli-user on simulated is not parked: nothing to revive\n');
  // Parked as the crash-loop cut-off leaves it: the stored status says failed.
  const pg = await import('pg');
  const db = new pg.default.Client({ connectionString: h.db.url });
  await db.connect();
  try {
    await db.query(`UPDATE exchange_connections SET status = 'failed' WHERE user_uid = $1 AND exchange = $2`, ['cli-file-user', 'simulated']);
  } finally {
    await db.end();
  }
  const parked = await cli(h, ['list']);
  t.regex(parked.out, /cli-file-user\s+simulated\s+failed\s+returns\s+(venue auth refused|venue unavailable|internal error|tamper detected)\n/u);
  t.regex(parked.out, /cli-user\s+simulated\s+active\s+full\s+—\n/u);
  const revived = await cli(h, ['revive', 'cli-file-user', 'simulated']);
  t.is(revived.code, 0, revived.err);
  t.is(revived.out, 'revived cli-file-user on simulated: it syncs again\n');
  t.regex((await cli(h, ['list'])).out, /cli-file-user\s+simulated\s+active\s+returns\s+—\n/u);
});

test.serial('at the default level a sync says only whether anything arrived; disclosure changes the level list shows', async (t) => {
  const { h } = t.context;
  const sync = await cli(h, ['sync', 'cli-file-user', 'simulated']);
  t.is(sync.code, 0, sync.err);
  t.regex(sync.out, /sync completed[^:]*: new fills, new cash flows \(counts withheld at disclosure level returns\), \d+ hours computed\n/u);
  t.notRegex(sync.out, /equity/u, 'no snapshot below full');
  const set = await cli(h, ['disclosure', 'cli-file-user', 'simulated', 'equity']);
  t.is(set.code, 0, set.err);
  t.is(set.out, 'cli-file-user on simulated now publishes at level equity\n');
  t.regex((await cli(h, ['list'])).out, /cli-file-user\s+simulated\s+active\s+equity\s+—\n/u);
  const wrong = await cli(h, ['disclosure', 'cli-file-user', 'simulated', 'everything']);
  t.is(wrong.code, 2);
  const missing = await cli(h, ['disclosure', 'nobody', 'simulated', 'full']);
  t.is(missing.code, 1);
  t.regex(missing.err, /NOT_FOUND/u);
});

test.serial('attest without an SEV-SNP device says so in one line; remove deletes the account', async (t) => {
  const { h } = t.context;
  const attest = await cli(h, ['attest']);
  t.is(attest.code, 1);
  t.regex(attest.err, /^enclave: FAILED_PRECONDITION: no SEV-SNP attestation device/u);
  const remove = await cli(h, ['remove', 'cli-user', 'simulated']);
  t.is(remove.code, 0, remove.err);
  t.regex(remove.out, /removed cli-user on simulated/u);
  const counts = await accountRowCounts(h.db, 'cli-user', 'simulated');
  for (const table of Object.keys(counts)) t.is(counts[table], 0, table);
  const list = await cli(h, ['list']);
  t.false(list.out.includes('cli-user '));
});
