// Per-account actor metrics on an injected prom-client Registry. Per account only counters and
// gauges (a per-account histogram makes a 10k-account scrape take ~0.5 s); the sync-duration
// histogram is labelled by venue only. The account label is `exchange:user_uid`: never an amount,
// id or key. A cap bounds the number of labelled accounts; the rest count in the totals only.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { accountId, type AccountKey, type Exchange } from '../domain/types.js';

export type ActorStateName = 'starting' | 'idle' | 'syncing' | 'restarting' | 'failed';
export const ACTOR_STATES: readonly ActorStateName[] = ['starting', 'idle', 'syncing', 'restarting', 'failed'];
export type SyncResultLabel = 'ok' | 'venue_error' | 'overloaded' | 'error';
const SYNC_RESULTS: readonly SyncResultLabel[] = ['ok', 'venue_error', 'overloaded', 'error'];

export interface RuntimeTotals {
  readonly alive: number;
  readonly passivated: number;
  readonly failed: number;
}

interface Tracked {
  readonly label: string;
  state: ActorStateName;
  mailbox: () => number;
}

export class ActorMetrics {
  private readonly tracked = new Map<string, Tracked>();
  private unlabelled = 0;
  private totalsProbe: () => RuntimeTotals = () => ({ alive: 0, passivated: 0, failed: 0 });

  private readonly syncs: Counter<'account' | 'result'>;
  private readonly fills: Counter<'account'>;
  private readonly restarts: Counter<'account'>;
  private readonly lastSuccess: Gauge<'account'>;
  private readonly lastDuration: Gauge<'account'>;
  private readonly syncDuration: Histogram<'venue'>;

  constructor(registry: Registry, private readonly accountCap: number) {
    const registers = [registry];
    this.syncs = new Counter({ name: 'enclave_account_syncs_total', help: 'Syncs finished, by account and result.', labelNames: ['account', 'result'], registers });
    this.fills = new Counter({ name: 'enclave_account_fills_ingested_total', help: 'New fills stored, by account.', labelNames: ['account'], registers });
    this.restarts = new Counter({ name: 'enclave_account_restarts_total', help: 'Account actor restarts after a crash.', labelNames: ['account'], registers });
    this.lastSuccess = new Gauge({ name: 'enclave_account_last_successful_sync_seconds', help: 'Unix time of the last successful sync.', labelNames: ['account'], registers });
    this.lastDuration = new Gauge({ name: 'enclave_account_last_sync_duration_seconds', help: 'Duration of the last sync.', labelNames: ['account'], registers });
    this.syncDuration = new Histogram({ name: 'enclave_sync_duration_seconds', help: 'Sync duration by venue.', labelNames: ['venue'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers });
    const tracked = this.tracked;
    new Gauge({
      name: 'enclave_account_mailbox_depth', help: 'Messages waiting in the account actor mailbox.', labelNames: ['account'], registers,
      collect() {
        this.reset();
        for (const entry of tracked.values()) this.set({ account: entry.label }, entry.mailbox());
      },
    });
    new Gauge({
      name: 'enclave_account_actor_state', help: 'Current state of the account actor (1 for the current state).', labelNames: ['account', 'state'], registers,
      collect() {
        this.reset();
        for (const entry of tracked.values()) this.set({ account: entry.label, state: entry.state }, 1);
      },
    });
    const totals = (): RuntimeTotals => this.totalsProbe();
    new Gauge({
      name: 'enclave_account_actors', help: 'Account actors by runtime state.', labelNames: ['state'], registers,
      collect() {
        const t = totals();
        this.set({ state: 'alive' }, t.alive);
        this.set({ state: 'passivated' }, t.passivated);
        this.set({ state: 'failed' }, t.failed);
      },
    });
    const unlabelled = (): number => this.unlabelled;
    new Gauge({
      name: 'enclave_metrics_unlabelled_accounts', help: 'Live accounts beyond the label cap (no per-account series).', registers,
      collect() { this.set(unlabelled()); },
    });
  }

  /** Where runtime totals come from (the supervisor). */
  setTotalsProbe(probe: () => RuntimeTotals): void {
    this.totalsProbe = probe;
  }

  /** Starts per-account series for a live actor, unless the cap is reached. */
  track(account: AccountKey, mailbox: () => number): void {
    const id = accountId(account);
    const existing = this.tracked.get(id);
    if (existing !== undefined) {
      existing.mailbox = mailbox;
      existing.state = 'starting';
      return;
    }
    if (this.tracked.size >= this.accountCap) {
      this.unlabelled += 1;
      return;
    }
    this.tracked.set(id, { label: id, state: 'starting', mailbox });
  }

  /** Removes every series of an account whose actor stopped. */
  untrack(account: AccountKey): void {
    const id = accountId(account);
    const entry = this.tracked.get(id);
    if (entry === undefined) {
      this.unlabelled = Math.max(0, this.unlabelled - 1);
      return;
    }
    this.tracked.delete(id);
    const labels = { account: entry.label };
    for (const result of SYNC_RESULTS) this.syncs.remove({ ...labels, result });
    this.fills.remove(labels);
    this.restarts.remove(labels);
    this.lastSuccess.remove(labels);
    this.lastDuration.remove(labels);
  }

  setState(account: AccountKey, state: ActorStateName): void {
    const entry = this.tracked.get(accountId(account));
    if (entry !== undefined) entry.state = state;
  }

  restarted(account: AccountKey): void {
    const label = this.labelOf(account);
    if (label !== undefined) this.restarts.inc({ account: label });
  }

  syncFinished(account: AccountKey, result: SyncResultLabel, durationMs: number, fillsIngested: number, finishedAt: number): void {
    this.syncDuration.observe({ venue: account.exchange satisfies Exchange }, durationMs / 1000);
    const label = this.labelOf(account);
    if (label === undefined) return;
    this.syncs.inc({ account: label, result });
    this.lastDuration.set({ account: label }, durationMs / 1000);
    if (result === 'ok') {
      this.lastSuccess.set({ account: label }, finishedAt / 1000);
      this.fills.inc({ account: label }, fillsIngested);
    }
  }

  private labelOf(account: AccountKey): string | undefined {
    return this.tracked.get(accountId(account))?.label;
  }
}
