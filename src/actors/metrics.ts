// Per-account actor metrics on an injected prom-client Registry. Per account only counters and
// gauges (a per-account histogram makes a 10k-account scrape take ~0.5 s); the sync-duration
// histogram is labelled by venue only. The account label is `exchange:user_uid`: never an amount,
// id or key. A cap bounds the number of labelled accounts; the rest count in the totals only.
//
// The per-account families are registered as collectors over one map of plain numbers, with each
// account's label set escaped once when it is tracked: 10,000 accounts × 5 series render in a
// fraction of what prom-client's labelled Counter/Gauge take (label hashing and escaping per
// series per scrape). Mailbox depth is exported only while non-zero, restarts once one happened.
import { Gauge, Histogram, type Metric, type Registry } from 'prom-client';
import { accountId, type AccountKey } from '../domain/types.js';

export type ActorStateName = 'starting' | 'idle' | 'syncing' | 'restarting' | 'failed';
export type SyncResultLabel = 'ok' | 'venue_error' | 'overloaded' | 'error';
const SYNC_RESULTS: readonly SyncResultLabel[] = ['ok', 'venue_error', 'overloaded', 'error'];

export interface RuntimeTotals {
  readonly alive: number;
  readonly passivated: number;
  readonly failed: number;
}

interface AccountSeries {
  /** `account="…"`, escaped once. */
  readonly label: string;
  /** Full series names (`name{account="…",…}`) built once per slot and reused every scrape. */
  readonly names: (string | undefined)[];
  state: ActorStateName;
  mailbox: () => number;
  readonly syncs: Record<SyncResultLabel, number>;
  fills: number;
  restarts: number;
  lastSuccess: number | null;
  lastDuration: number | null;
}

interface Sample { readonly metricName: string; readonly labels: Record<string, never>; readonly sharedLabels: Record<string, never>; readonly value: number }

// One shared empty label object: prom-client caches shared-label text per object in a WeakMap,
// so a fresh `{}` per sample would cost a WeakMap insert per series per scrape.
const NO_LABELS: Record<string, never> = Object.freeze({});

const STATES: readonly ActorStateName[] = ['starting', 'idle', 'syncing', 'restarting', 'failed'];
// Slots of AccountSeries.names.
const SLOT_SYNCS = 0; // + result index (4)
const SLOT_FILLS = 4;
const SLOT_RESTARTS = 5;
const SLOT_LAST_SUCCESS = 6;
const SLOT_LAST_DURATION = 7;
const SLOT_MAILBOX = 8;
const SLOT_STATE = 9; // + state index (5)

/** A series name, built on first use: strings rebuilt per scrape cost more than their text. */
function seriesName(s: AccountSeries, slot: number, build: () => string): string {
  let name = s.names[slot];
  if (name === undefined) {
    name = build();
    s.names[slot] = name;
  }
  return name;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/gu, '\\\\').replace(/\n/gu, '\\n').replace(/"/gu, '\\"');
}

export class ActorMetrics {
  private readonly series = new Map<string, AccountSeries>();
  private unlabelled = 0;
  private totalsProbe: () => RuntimeTotals = () => ({ alive: 0, passivated: 0, failed: 0 });
  private readonly syncDuration: Histogram<'venue'>;

  constructor(registry: Registry, private readonly accountCap: number) {
    const registers = [registry];
    this.syncDuration = new Histogram({ name: 'enclave_sync_duration_seconds', help: 'Sync duration by venue.', labelNames: ['venue'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers });
    this.family(registry, 'enclave_account_syncs_total', 'Syncs finished, by account and result.', 'counter', (s, out, name) => {
      SYNC_RESULTS.forEach((result, i) => {
        const value = s.syncs[result];
        if (value > 0) out.push({ metricName: seriesName(s, SLOT_SYNCS + i, () => `${name}{${s.label},result="${result}"}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value });
      });
    });
    this.family(registry, 'enclave_account_fills_ingested_total', 'New fills stored, by account.', 'counter', (s, out, name) => {
      if (s.syncs.ok > 0) out.push({ metricName: seriesName(s, SLOT_FILLS, () => `${name}{${s.label}}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: s.fills });
    });
    this.family(registry, 'enclave_account_restarts_total', 'Account actor restarts after a crash.', 'counter', (s, out, name) => {
      if (s.restarts > 0) out.push({ metricName: seriesName(s, SLOT_RESTARTS, () => `${name}{${s.label}}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: s.restarts });
    });
    this.family(registry, 'enclave_account_last_successful_sync_seconds', 'Unix time of the last successful sync.', 'gauge', (s, out, name) => {
      if (s.lastSuccess !== null) out.push({ metricName: seriesName(s, SLOT_LAST_SUCCESS, () => `${name}{${s.label}}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: s.lastSuccess });
    });
    this.family(registry, 'enclave_account_last_sync_duration_seconds', 'Duration of the last sync.', 'gauge', (s, out, name) => {
      if (s.lastDuration !== null) out.push({ metricName: seriesName(s, SLOT_LAST_DURATION, () => `${name}{${s.label}}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: s.lastDuration });
    });
    this.family(registry, 'enclave_account_mailbox_depth', 'Messages waiting in the account actor mailbox (absent: empty).', 'gauge', (s, out, name) => {
      const depth = s.mailbox();
      if (depth > 0) out.push({ metricName: seriesName(s, SLOT_MAILBOX, () => `${name}{${s.label}}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: depth });
    });
    this.family(registry, 'enclave_account_actor_state', 'Current state of the account actor (1 for the current state).', 'gauge', (s, out, name) => {
      const state = s.state;
      out.push({ metricName: seriesName(s, SLOT_STATE + STATES.indexOf(state), () => `${name}{${s.label},state="${state}"}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: 1 });
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

  /** Registers one per-account family as a collector over the series map. */
  private family(registry: Registry, name: string, help: string, type: 'counter' | 'gauge', emit: (s: AccountSeries, out: Sample[], name: string) => void): void {
    const series = this.series;
    const get = async (): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> => {
      const values: Sample[] = [];
      for (const s of series.values()) emit(s, values, name);
      return { name, help, type, aggregator: 'sum', values };
    };
    registry.registerMetric({ name, help, type, aggregator: 'sum', get, reset: () => undefined } as unknown as Metric);
  }

  /** Where runtime totals come from (the supervisor). */
  setTotalsProbe(probe: () => RuntimeTotals): void {
    this.totalsProbe = probe;
  }

  /** Starts per-account series for a live actor, unless the cap is reached. */
  track(account: AccountKey, mailbox: () => number): void {
    const id = accountId(account);
    const existing = this.series.get(id);
    if (existing !== undefined) {
      existing.mailbox = mailbox;
      existing.state = 'starting';
      return;
    }
    if (this.series.size >= this.accountCap) {
      this.unlabelled += 1;
      return;
    }
    this.series.set(id, {
      label: `account="${escapeLabel(id)}"`, names: [], state: 'starting', mailbox,
      syncs: { ok: 0, venue_error: 0, overloaded: 0, error: 0 }, fills: 0, restarts: 0, lastSuccess: null, lastDuration: null,
    });
  }

  /** Removes every series of an account whose actor stopped. */
  untrack(account: AccountKey): void {
    if (!this.series.delete(accountId(account))) this.unlabelled = Math.max(0, this.unlabelled - 1);
  }

  setState(account: AccountKey, state: ActorStateName): void {
    const s = this.series.get(accountId(account));
    if (s !== undefined) s.state = state;
  }

  restarted(account: AccountKey): void {
    const s = this.series.get(accountId(account));
    if (s !== undefined) s.restarts += 1;
  }

  syncFinished(account: AccountKey, result: SyncResultLabel, durationMs: number, fillsIngested: number, finishedAt: number): void {
    this.syncDuration.observe({ venue: account.exchange }, durationMs / 1000);
    const s = this.series.get(accountId(account));
    if (s === undefined) return;
    s.syncs[result] += 1;
    s.lastDuration = durationMs / 1000;
    if (result === 'ok') {
      s.lastSuccess = finishedAt / 1000;
      s.fills += fillsIngested;
    }
  }
}
