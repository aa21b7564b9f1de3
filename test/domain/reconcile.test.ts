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
