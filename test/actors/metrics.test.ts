import test from 'ava';
import { Registry } from 'prom-client';
import { ActorMetrics } from '../../src/actors/metrics.js';
import { mailboxDepth, reply, spawn, startSystem, stopSystem, tell, type ReplyTo } from '../../src/actors/nact.js';
import type { AccountKey } from '../../src/domain/types.js';

const alice: AccountKey = { userUid: 'alice', exchange: 'binance' };
const odd: AccountKey = { userUid: 'we"ird\\uid', exchange: 'bybit' };

test('per-account series carry only exchange:user_uid, escaped, and vanish when the actor stops', async (t) => {
  const registry = new Registry();
  const metrics = new ActorMetrics(registry, 10);
  let depth = 0;
  metrics.track(alice, () => depth);
  metrics.track(odd, () => 0);
  metrics.syncFinished(alice, 'ok', 1_500, 12, 1_700_000_000_000);
  metrics.syncFinished(alice, 'venue_error', 300, 0, 1_700_000_100_000);
  metrics.restarted(alice);
  metrics.setState(alice, 'syncing');
  let text = await registry.metrics();
  t.regex(text, /enclave_account_syncs_total\{account="binance:alice",result="ok"\} 1\n/u);
  t.regex(text, /enclave_account_syncs_total\{account="binance:alice",result="venue_error"\} 1\n/u);
  // Whether a sync found news, never how many fills (a trading-activity count the levels withhold).
  t.regex(text, /enclave_account_syncs_new_data_total\{account="binance:alice",new_data="yes"\} 1\n/u);
  t.notRegex(text, /enclave_account_syncs_new_data_total\{account="binance:alice",new_data="no"\}/u);
  t.notRegex(text, /\{account="binance:alice"[^}]*\} 12\n/u, 'no per-account series carries the fill count');
  t.regex(text, /enclave_fills_ingested_total 12\n/u);
  t.regex(text, /enclave_account_last_successful_sync_seconds\{account="binance:alice"\} 1700000000\n/u);
  t.regex(text, /enclave_account_last_sync_duration_seconds\{account="binance:alice"\} 0.3\n/u);
  t.regex(text, /enclave_account_restarts_total\{account="binance:alice"\} 1\n/u);
  t.regex(text, /enclave_account_actor_state\{account="binance:alice",state="syncing"\} 1\n/u);
  t.notRegex(text, /enclave_account_mailbox_depth\{account="binance:alice"\}/u, 'an empty mailbox has no series');
  t.regex(text, /enclave_sync_duration_seconds_count\{venue="binance"\} 2\n/u);
  t.true(text.includes('account="bybit:we\\"ird\\\\uid"'), 'label values are escaped');
  depth = 4;
  t.regex(await registry.metrics(), /enclave_account_mailbox_depth\{account="binance:alice"\} 4\n/u);
  metrics.untrack(alice);
  text = await registry.metrics();
  t.false(text.includes('binance:alice'));
  t.regex(text, /enclave_sync_duration_seconds_count\{venue="binance"\} 2\n/u, 'the venue histogram stays');
});

test('runtime totals come from the supervisor probe', async (t) => {
  const registry = new Registry();
  const metrics = new ActorMetrics(registry, 10);
  metrics.setTotalsProbe(() => ({ alive: 3, passivated: 2, failed: 1, parked: { venue_auth: 0, venue_unavailable: 0, internal: 1, tamper: 0 } }));
  const text = await registry.metrics();
  t.regex(text, /enclave_account_actors\{state="alive"\} 3\n/u);
  t.regex(text, /enclave_account_actors\{state="passivated"\} 2\n/u);
  t.regex(text, /enclave_account_actors\{state="failed"\} 1\n/u);
});

test('mailbox depth counts messages told but not yet handled', async (t) => {
  type Msg = { readonly type: 'Hold'; readonly replyTo: ReplyTo<number> };
  const system = startSystem();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const ref = spawn<number, Msg>(system, 'slow', async (n, msg) => { await gate; reply(msg.replyTo, n); return n + 1; }, { initialState: 0, onCrash: () => 'stop' });
  for (let i = 0; i < 3; i += 1) tell(ref, { type: 'Hold', replyTo: { askId: -1 } as ReplyTo<number> });
  await new Promise((resolve) => { setImmediate(resolve); });
  t.is(mailboxDepth(ref), 2, 'one in the handler, two waiting');
  release();
  while (mailboxDepth(ref) > 0) await new Promise((resolve) => { setImmediate(resolve); });
  t.is(mailboxDepth(ref), 0);
  stopSystem(system);
});
