// restoreSchedules (pure): when each stored account's first wake-up after a start or a shard claim
// comes. An overdue one (due while its shard had no owner) must not wait a fixed spread on top of the
// takeover (issue 18: that pushed gaps past interval + takeover), yet a large backlog is paced.
import test from 'ava';
import { restoreSchedules } from '../../src/actors/restore-schedules.js';
import type { AccountKey, EpochMs } from '../../src/domain/types.js';

const NOW = Date.UTC(2026, 11, 6, 12);
const HOUR = 3_600_000;

function wakes(connections: readonly { nextSyncAt: EpochMs | null; status?: 'active' | 'failed' }[], syncIntervalMs = HOUR, random: () => number = Math.random): { at: number[]; scheduled: number } {
  const at: number[] = [];
  const report = restoreSchedules({ scheduleWake: (_account: AccountKey, when: EpochMs) => { at.push(when); } },
    connections.map((c, i) => ({ account: { userUid: `u${i}`, exchange: 'simulated' }, status: c.status ?? 'active', nextSyncAt: c.nextSyncAt })),
    { now: NOW, syncIntervalMs, random });
  return { at, scheduled: report.scheduled };
}

test('a few overdue accounts start at once, not a tenth of the interval later', (t) => {
  const { at } = wakes([{ nextSyncAt: NOW - 5_000 }, { nextSyncAt: NOW - 1 }, { nextSyncAt: NOW }], HOUR, () => 0.999);
  t.is(at.length, 3);
  for (const when of at) t.true(when >= NOW && when < NOW + 30, `within 30 ms (3 accounts paced 10 ms apart), was ${when - NOW} ms`);
});

test('a large overdue backlog is paced at about 100 a second, within a tenth of the interval and at most a minute', (t) => {
  let seed = 1;
  const random = (): number => { seed = (seed * 16_807) % 2_147_483_647; return seed / 2_147_483_647; };
  const backlog = (n: number) => Array.from({ length: n }, () => ({ nextSyncAt: NOW - 1_000 }));
  const two = wakes(backlog(2_000), HOUR, random).at;
  t.true(Math.max(...two) - NOW < 20_000 && Math.max(...two) - NOW > 18_000, '2,000 accounts over ~20 s');
  const many = wakes(backlog(20_000), HOUR, random).at;
  t.true(Math.max(...many) - NOW < 60_000 && Math.max(...many) - NOW > 58_000, 'never over a minute');
  const short = wakes(backlog(2_000), 60_000, random).at;
  t.true(Math.max(...short) - NOW < 6_000 && Math.max(...short) - NOW > 5_500, 'never over a tenth of a 60 s interval');
});

test('future schedules are kept, never-synced accounts spread over one interval, failed ones left alone', (t) => {
  const { at, scheduled } = wakes([{ nextSyncAt: NOW + 42_000 }, { nextSyncAt: null }, { nextSyncAt: NOW - 1, status: 'failed' }], HOUR, () => 0.5);
  t.is(scheduled, 2);
  t.deepEqual(at, [NOW + 42_000, NOW + HOUR / 2]);
});
