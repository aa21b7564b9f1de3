import test from 'ava';
import { reconcile } from '../../src/domain/reconcile.js';
import { H, T0, deposit, fill } from './history.js';

const base = { baseCurrency: 'USDT', marks: new Map([['BTC', 50_000], ['AIR', 2]]), foundAt: T0 + 5 * H + 1234, previous: [] };

test('holdings that match the venue (after pending records) need no adjustment and explain all of equity', (t) => {
  const r = reconcile({
    ...base,
    positions: [{ asset: 'USDT', quantity: 1000 }],
    pendingFills: [fill(T0 + 5 * H, 'buy', 'BTC/USDT', '0.01', '50000', '0.5')],
    pendingFlows: [deposit(T0 + 5 * H, 'USDT', '100')],
    balances: [{ asset: 'USDT', total: '599.5' }, { asset: 'BTC', total: '0.01' }],
  });
  t.deepEqual(r.differences, []);
  t.deepEqual(r.adjustments, []);
  t.is(r.explainedShare, 1);
  t.deepEqual(r.gaps, []);
});

test('an airdrop never traded is reported and flagged at once, and booked as an adjustment when the next sync still sees it', (t) => {
  const input = { ...base, positions: [{ asset: 'USDT', quantity: 1000 }], pendingFills: [], pendingFlows: [], balances: [{ asset: 'USDT', total: '1000' }, { asset: 'AIR', total: '50' }] };
  const first = reconcile(input);
  t.deepEqual(first.differences, [{ asset: 'AIR', difference: 50, value: 100 }]);
  t.deepEqual(first.adjustments, []);
  t.deepEqual(first.gaps.map((g) => [g.kind, g.asset, g.hourStart]), [['unreconciled', 'AIR', T0 + 5 * H]]);
  t.true(Math.abs(first.explainedShare - 1000 / 1100) < 1e-12);
  const second = reconcile({ ...input, foundAt: base.foundAt + H, previous: first.differences });
  t.deepEqual(second.adjustments, [{ exchangeFlowId: `reconcile:AIR:${base.foundAt + H}`, kind: 'adjustment-in', asset: 'AIR', amount: '50', occurredAt: base.foundAt + H }]);
});

test('a missing quote balance (a round trip never fetched) becomes an adjustment-out; dust below tolerance does not', (t) => {
  const input = { ...base, positions: [{ asset: 'USDT', quantity: 1000 }, { asset: 'BTC', quantity: 0.0000001 }], pendingFills: [], pendingFlows: [], balances: [{ asset: 'USDT', total: '900' }] };
  const r = reconcile({ ...input, previous: [{ asset: 'USDT', difference: -120, value: 120 }] });
  t.deepEqual(r.differences.map((d) => d.asset), ['USDT']);
  t.is(r.adjustments[0]!.kind, 'adjustment-out');
  t.is(r.adjustments[0]!.amount, '100');
  t.true(r.explainedShare < 1);
});

// Per wallet (Binance spot/funding/earn/futures, Bybit unified/fund): the venue's balances are
// tagged with their wallet; records credit the main wallet; moves between wallets are no events.
const wallets = { ...base, marks: new Map([['BTC', 50_000], ['BNB', 500]]), pendingFills: [], pendingFlows: [] };

test('an unread Earn reward is attributed to the earn wallet and booked as its own adjustment; a move spot → earn in the same interval is not a difference', (t) => {
  // Before: 10 BNB in spot, nothing elsewhere, rebuilt 10. Then 4 BNB moved to Earn (no event) and 0.2 BNB of rewards accrued there, unread.
  const previousWalletBalances = [{ asset: 'BNB', wallet: 'main', total: 10 }];
  const input = {
    ...wallets, positions: [{ asset: 'BNB', quantity: 10 }], previousWalletBalances,
    balances: [{ asset: 'BNB', total: '6' }, { asset: 'BNB', total: '4.2', wallet: 'earn' }],
  };
  const first = reconcile(input);
  t.is(first.differences.length, 1);
  const [d] = first.differences;
  t.true(Math.abs(d!.difference - 0.2) < 1e-9);
  t.deepEqual(d!.wallets?.map((w) => w.wallet), ['earn'], 'the whole difference sits in the earn wallet, none in spot');
  t.true(Math.abs(d!.wallets![0]!.difference - 0.2) < 1e-9);
  t.deepEqual(first.adjustments, []);
  t.deepEqual(first.gaps.map((g) => [g.kind, g.asset, g.hourStart]), [['unreconciled', 'BNB', T0 + 5 * H]]);
  t.deepEqual(first.walletBalances, [{ asset: 'BNB', wallet: 'earn', total: 4.2 }, { asset: 'BNB', wallet: 'main', total: 6 }]);
  // Next sync: the same balances: the earn wallet's share is booked, under the earn wallet's id.
  const at = base.foundAt + H;
  const second = reconcile({ ...input, foundAt: at, previous: first.differences, previousWalletBalances: first.walletBalances });
  t.is(second.adjustments.length, 1);
  t.is(second.adjustments[0]!.exchangeFlowId, `reconcile:BNB@earn:${at}`);
  t.is(second.adjustments[0]!.kind, 'adjustment-in');
  t.true(Math.abs(Number(second.adjustments[0]!.amount) - 0.2) < 1e-9);
  // The sync after: the booked adjustment is a record now: nothing differs, nothing is booked twice.
  const booked = second.adjustments[0]!;
  const third = reconcile({ ...input, foundAt: at + H, pendingFlows: [booked], previous: second.differences, previousWalletBalances: second.walletBalances });
  t.deepEqual(third.differences, []);
  t.deepEqual(third.adjustments, []);
});

test('an unrecorded withdrawal from the funding wallet is attributed to it, net of an unrecorded airdrop of the same asset in spot (only the net difference is split)', (t) => {
  // Rebuilt: 1,000 USDT (all records credit the main wallet). The venue: spot 1,000 + 30 airdropped USDT; funding 0 after 200 left it unrecorded, having had 200 at the last sync.
  const input = {
    ...wallets, positions: [{ asset: 'USDT', quantity: 1200 }],
    previousWalletBalances: [{ asset: 'USDT', wallet: 'main', total: 1000 }, { asset: 'USDT', wallet: 'funding', total: 200 }],
    balances: [{ asset: 'USDT', total: '1030' }, { asset: 'USDT', total: '0', wallet: 'funding' }],
  };
  const r = reconcile(input);
  const d = r.differences.find((x) => x.asset === 'USDT');
  t.true(Math.abs(d!.difference - -170) < 1e-9, 'the per-asset figure is the sum');
  // The new −170 goes to the wallets that moved down beyond the records: funding alone (spot moved up).
  t.deepEqual(d!.wallets?.map((w) => [w.wallet, Math.round(w.difference)]), [['funding', -170]]);
  const next = reconcile({ ...input, foundAt: base.foundAt + H, previous: r.differences, previousWalletBalances: r.walletBalances });
  t.deepEqual(next.adjustments.map((a) => [a.exchangeFlowId.split(':').slice(0, 2).join(':'), a.kind, Math.round(Number(a.amount))]), [['reconcile:USDT@funding', 'adjustment-out', 170]]);
});

test('a single-wallet venue books as before and never books a new difference on the strength of one already booked', (t) => {
  const input = { ...base, positions: [{ asset: 'USDT', quantity: 1000 }], pendingFills: [], pendingFlows: [], balances: [{ asset: 'USDT', total: '1000' }, { asset: 'AIR', total: '50' }] };
  const first = reconcile(input);
  const second = reconcile({ ...input, foundAt: base.foundAt + H, previous: first.differences });
  t.is(second.adjustments.length, 1);
  t.is(second.differences[0]!.wallets, undefined, 'no wallets: no per-wallet figures');
  t.is(second.walletBalances.length, 0);
  // 50 booked; then 10 more AIR arrive: seen once only, not booked yet.
  const third = reconcile({ ...input, foundAt: base.foundAt + 2 * H, pendingFlows: [second.adjustments[0]!], balances: [{ asset: 'USDT', total: '1000' }, { asset: 'AIR', total: '60' }], previous: second.differences });
  t.deepEqual(third.differences.map((d) => [d.asset, d.difference]), [['AIR', 10]]);
  t.deepEqual(third.adjustments, []);
});
