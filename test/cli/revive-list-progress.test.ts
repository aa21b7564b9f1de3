// The CLI's revive command, the parked-reason column of list and the sync progress bar, against a
// real gRPC server whose EnclaveApi is a TestPort (so each parked reason and each progress state
// can be produced on demand).
import test from 'ava';
import { Writable } from 'node:stream';
import { AccountNotFoundError } from '../../src/actors/errors.js';
import { runCli } from '../../src/cli/main.js';
import { parkedReasonText, syncProgressText } from '../../src/cli/render.js';
import { PARKED_REASONS, type SyncProgress } from '../../src/domain/types.js';
import { startHarness, type Harness } from '../../testkit/support/grpc-client.js';

let h: Harness;
test.before(async () => {
  h = await startHarness({ service: { progressIntervalMs: 50 } });
});
test.after.always(async () => {
  await h.close();
});

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** What the progress bar drew, escape sequences removed. */
  readonly bar: string;
}

async function cli(args: readonly string[]): Promise<Run> {
  let out = '';
  let err = '';
  let bar = '';
  // A terminal, so that cli-progress draws (it stays silent on a pipe).
  const terminal = Object.assign(
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        bar += chunk.toString('utf8');
        done();
      },
    }),
    { isTTY: true, columns: 200 },
  );
  const code = await runCli([...args, '--target', `127.0.0.1:${h.running.port}`], {
    out: (text) => { out += text; },
    err: (text) => { err += text; },
    readStdin: async () => Buffer.alloc(0),
    progressStream: terminal,
    env: {},
  });
  return { code, out, err, bar: bar.replace(/\u001b(\[[0-9;?]*[A-Za-z]|[78])/gu, '\n') };
}

test.serial('revive says whether the account was parked, and exits 1 with one line for an unknown account', async (t) => {
  h.port.behaviour.reviveConnection = async (account) => {
    if (account.userUid === 'nobody') throw new AccountNotFoundError('simulated:nobody');
    return account.userUid === 'parked-user';
  };
  try {
    const revived = await cli(['revive', 'parked-user', 'simulated']);
    t.deepEqual(revived, { code: 0, out: 'revived parked-user on simulated: it syncs again\n', err: '', bar: '' });
    const notParked = await cli(['revive', 'active-user', 'simulated']);
    t.is(notParked.code, 0);
    t.is(notParked.out, 'active-user on simulated is not parked: nothing to revive\n');
    const unknown = await cli(['revive', 'nobody', 'simulated']);
    t.is(unknown.code, 1);
    t.is(unknown.err, 'enclave: NOT_FOUND: no account is connected for this user and exchange\n');
    const usage = await cli(['revive', 'only-a-user']);
    t.is(usage.code, 2);
    t.regex(usage.err, /^enclave: expected <user> <exchange>\n/u);
    t.deepEqual(h.port.calls.filter((c) => c.method === 'reviveConnection').map((c) => c.account?.userUid), ['parked-user', 'active-user', 'nobody']);
  } finally {
    delete h.port.behaviour.reviveConnection;
  }
});

test.serial('list shows why each parked account is parked, in words, and nothing for an active one', async (t) => {
  h.port.behaviour.listConnections = async () => [
    { account: { userUid: 'ok-user', exchange: 'binance' }, status: 'active', parkedReason: null, disclosureLevel: 'equity' },
    ...PARKED_REASONS.map((reason) => ({ account: { userUid: `parked-${reason}`, exchange: 'bybit' as const }, status: 'failed' as const, parkedReason: reason, disclosureLevel: 'returns' as const })),
  ];
  try {
    const run = await cli(['list']);
    t.is(run.code, 0, run.err);
    t.regex(run.out, /user\s+exchange\s+status\s+disclosure\s+parked because/u);
    t.regex(run.out, /ok-user\s+binance\s+active\s+equity\s+—\n/u);
    t.regex(run.out, /parked-venue_auth\s+bybit\s+failed\s+returns\s+venue auth refused\n/u);
    t.regex(run.out, /parked-venue_unavailable\s+bybit\s+failed\s+returns\s+venue unavailable\n/u);
    t.regex(run.out, /parked-internal\s+bybit\s+failed\s+returns\s+internal error\n/u);
    t.regex(run.out, /parked-tamper\s+bybit\s+failed\s+returns\s+tamper detected\n$/u);
  } finally {
    delete h.port.behaviour.listConnections;
  }
});

test('every parked reason has its own words', (t) => {
  const words = PARKED_REASONS.map(parkedReasonText);
  t.deepEqual(words, ['venue auth refused', 'venue unavailable', 'internal error', 'tamper detected']);
  t.is(parkedReasonText(null), '—');
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('sync draws fills and pages while fetching, then hours done of hours total, then the summary', async (t) => {
  const fetching = (page: number): SyncProgress => ({ phase: 'fetching', fillPages: page, fillsFetched: page * 1000, cashFlowPages: 1, cashFlowsFetched: 2, hoursDone: 0, hoursTotal: 0 });
  h.port.behaviour.sync = async (_account, mode, _call, onProgress) => {
    t.is(mode, 'full');
    for (let page = 1; page <= 4; page++) {
      onProgress?.(fetching(page));
      await sleep(150);
    }
    for (const hoursDone of [0, 240, 480]) {
      onProgress?.({ ...fetching(4), phase: 'aggregating', hoursDone, hoursTotal: 480 });
      await sleep(150);
    }
    return { fillsSynced: 4000, cashFlowsSynced: 2, hourlyReturnsGenerated: 480, latestSnapshot: { at: Date.UTC(2026, 0, 21), balance: 1, equity: 1234.5 }, gapKinds: [] };
  };
  try {
    const run = await cli(['sync', 'u1', 'simulated', '--full']);
    t.is(run.code, 0, run.err);
    t.is(run.out, 'sync completed: 4000 new fills, 2 new cash flows, 480 hours computed; equity 1234.50 at 2026-01-21T00:00:00.000Z\n');
    t.regex(run.bar, /fetching\s+\|[^|]*\| [2-4]000 fills in [2-4] pages, 2 cash flows in 1 page/u);
    t.regex(run.bar, /aggregating\s+\|[^|]*\| (0|240|480)\/480 hours \| 4000 fills in 4 pages/u);
    t.regex(run.bar, /done\s+\|=+\| 480\/480 hours/u);
    t.true(run.bar.indexOf('fetching') < run.bar.indexOf('aggregating'));
  } finally {
    delete h.port.behaviour.sync;
  }
});

test('the progress text counts pages and records per stream, then hours', (t) => {
  const p: SyncProgress = { phase: 'fetching', fillPages: 1, fillsFetched: 1, cashFlowPages: 0, cashFlowsFetched: 0, hoursDone: 0, hoursTotal: 0 };
  t.is(syncProgressText(p), '1 fill in 1 page, 0 cash flows in 0 pages');
  t.is(syncProgressText({ ...p, phase: 'aggregating', hoursDone: 3, hoursTotal: 10 }), '3/10 hours | 1 fill in 1 page, 0 cash flows in 0 pages');
});
