// Per-account actor metrics on an injected prom-client Registry. Per account only counters and
// gauges (a per-account histogram makes a 10k-account scrape take ~0.5 s); the sync-duration
// histogram is labelled by venue only. The account label is a keyed pseudonym in the service
// (`exchange:user_uid` by default, for tests): never an amount, id or key. A cap bounds the number of labelled accounts; the rest count in the totals only.
// No per-account fill count either (it would tell an account's trading activity, which the
// `returns` and `equity` disclosure levels withhold): per account only whether a successful sync
// found new data; the number of fills stored is one total over all accounts.
//
// The per-account families are registered as collectors over one map of plain numbers, with each
// account's label set escaped once when it is tracked: 10,000 accounts × 5 series render in a
// fraction of what prom-client's labelled Counter/Gauge take (label hashing and escaping per
// series per scrape). Mailbox depth is exported only while non-zero, restarts once one happened.
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';
import { accountId, type AccountKey, type ParkedReason } from '../domain/types.js';
import type { VenueFailureKind } from '../exchanges/errors.js';

export type ActorStateName = 'starting' | 'idle' | 'syncing' | 'restarting' | 'failed';
export type SyncResultLabel = 'ok' | 'venue_error' | 'overloaded' | 'error';
const SYNC_RESULTS: readonly SyncResultLabel[] = ['ok', 'venue_error', 'overloaded', 'error'];

/** The supervisor's full-sync gate: full syncs running and the most allowed at once. */
export interface FullSyncGateUsage {
  readonly inUse: number;
  readonly capacity: number;
}

/** What alerting needs besides the per-account series (see deploy/prometheus). */
export interface ActorMetricsOptions {
  /** Each account's sync period; 0 disables scheduled syncs, and with it the staleness count. */
  readonly syncIntervalMs?: number;
  /** Scrape time, ms (the actors' clock). */
  readonly now?: () => number;
  /**
   * The `account` label value of an account (default `exchange:user_uid`). The service passes a
   * keyed pseudonym (HMAC of the account id, src/crypto/track-record.ts) so a scrape lists no
   * customer; `enclave whois LABEL` maps one back for operators.
   */
  readonly accountLabel?: (account: AccountKey) => string;
}

/** Staleness is counted past this many sync intervals without a successful sync. */
export const STALE_AFTER_INTERVALS = 2;

export interface RuntimeTotals {
  readonly alive: number;
  readonly passivated: number;
  readonly failed: number;
  /** Failed accounts by the reason class that parked them (sums to `failed`). */
  readonly parked: Readonly<Record<ParkedReason, number>>;
}

export const NO_PARKED: Readonly<Record<ParkedReason, number>> = Object.freeze({ venue_auth: 0, venue_unavailable: 0, internal: 0, tamper: 0 });

interface AccountSeries {
  /** `account="…"`, escaped once. */
  readonly label: string;
  /** Full series names (`name{account="…",…}`) built once per slot and reused every scrape. */
  readonly names: (string | undefined)[];
  state: ActorStateName;
  mailbox: () => number;
  readonly syncs: Record<SyncResultLabel, number>;
  /** Successful syncs that stored something new, and ones that found nothing. */
  readonly news: { yes: number; no: number };
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
const SLOT_NO_NEWS = 14;

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
  private totalsProbe: () => RuntimeTotals = () => ({ alive: 0, passivated: 0, failed: 0, parked: NO_PARKED });
  private readonly syncDuration: Histogram<'venue'>;
  private readonly venueSyncs: Counter<'venue' | 'result'>;
  private readonly fillsIngested: Counter;
  private readonly venueFailures: Counter<'venue' | 'kind'>;
  private readonly tamper: Counter;
  private gateProbe: () => FullSyncGateUsage = () => ({ inUse: 0, capacity: 0 });
  /**
   * Per account (capped or not): when its last successful sync finished, else when it was first
   * seen, in ms. Unlike the labelled series this outlives passivation, which with the default
   * settings happens between every two scheduled syncs; forget() drops it when the connection goes.
   */
  private readonly syncedSince = new Map<string, { readonly venue: string; at: number }>();
  private readonly now: () => number;

  private readonly accountLabel: (account: AccountKey) => string;

  constructor(registry: Registry, private readonly accountCap: number, options: ActorMetricsOptions = {}) {
    this.accountLabel = options.accountLabel ?? accountId;
    const registers = [registry];
    const intervalSeconds = (options.syncIntervalMs ?? 0) / 1000;
    const now = options.now ?? Date.now;
    this.now = now;
    this.venueSyncs = new Counter({ name: 'enclave_venue_syncs_total', help: 'Syncs finished, by venue and result (every account, capped or not).', labelNames: ['venue', 'result'], registers });
    // No account label: an alert says "some account's sealed storage was tampered with"; which one is in the parked list.
    this.tamper = new Counter({ name: 'enclave_tamper_detected_total', help: 'Accounts parked because their sealed storage failed an integrity check (edited, moved, deleted, replayed or inserted rows).', registers });
    this.venueFailures = new Counter({ name: 'enclave_venue_sync_failures_total', help: 'Syncs failed by the venue, by venue and failure class (after retries).', labelNames: ['venue', 'kind'], registers });
    new Gauge({
      name: 'enclave_sync_interval_seconds', help: 'Configured period of each account\'s scheduled sync (0: disabled).', registers,
      collect() { this.set(intervalSeconds); },
    });
    const syncedSince = this.syncedSince;
    new Gauge({
      name: 'enclave_accounts_stale', help: `Accounts without a successful sync for more than ${STALE_AFTER_INTERVALS} sync intervals, by venue.`, labelNames: ['venue'], registers,
      collect() {
        this.reset();
        if (intervalSeconds <= 0) return;
        const cutoff = now() - STALE_AFTER_INTERVALS * intervalSeconds * 1000;
        const byVenue = new Map<string, number>();
        for (const { venue, at } of syncedSince.values()) byVenue.set(venue, (byVenue.get(venue) ?? 0) + (at < cutoff ? 1 : 0));
        for (const [venue, count] of byVenue) this.set({ venue }, count);
      },
    });
    const gate = (): FullSyncGateUsage => this.gateProbe();
    new Gauge({
      name: 'enclave_full_sync_gate_in_use', help: 'Whole-history syncs running now (full syncs, and first syncs the schedule started; each holds one gate slot).', registers,
      collect() { this.set(gate().inUse); },
    });
    new Gauge({
      name: 'enclave_full_sync_gate_capacity', help: 'Whole-history syncs allowed at once; more full syncs are refused with RESOURCE_EXHAUSTED, more scheduled first syncs wait.', registers,
      collect() { this.set(gate().capacity); },
    });
    this.syncDuration = new Histogram({ name: 'enclave_sync_duration_seconds', help: 'Sync duration by venue.', labelNames: ['venue'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers });
    this.family(registry, 'enclave_account_syncs_total', 'Syncs finished, by account and result.', 'counter', (s, out, name) => {
      SYNC_RESULTS.forEach((result, i) => {
        const value = s.syncs[result];
        if (value > 0) out.push({ metricName: seriesName(s, SLOT_SYNCS + i, () => `${name}{${s.label},result="${result}"}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value });
      });
    });
    this.family(registry, 'enclave_account_syncs_new_data_total', 'Successful syncs by account, by whether they stored anything new (never how much).', 'counter', (s, out, name) => {
      if (s.news.yes > 0) out.push({ metricName: seriesName(s, SLOT_FILLS, () => `${name}{${s.label},new_data="yes"}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: s.news.yes });
      if (s.news.no > 0) out.push({ metricName: seriesName(s, SLOT_NO_NEWS, () => `${name}{${s.label},new_data="no"}`), labels: NO_LABELS, sharedLabels: NO_LABELS, value: s.news.no });
    });
    this.fillsIngested = new Counter({ name: 'enclave_fills_ingested_total', help: 'New fills stored, over all accounts (no per-account count).', registers });
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
    new Gauge({
      name: 'enclave_accounts_parked', help: 'Accounts parked (failed) until an operator revives them, by reason class.', labelNames: ['reason'], registers,
      collect() { for (const [reason, count] of Object.entries(totals().parked)) this.set({ reason }, count); },
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

  /** An account's sealed storage failed its integrity check: it is parked (reason tamper). */
  tamperDetected(): void {
    this.tamper.inc();
  }

  /** Where runtime totals come from (the supervisor). */
  setTotalsProbe(probe: () => RuntimeTotals): void {
    this.totalsProbe = probe;
  }

  /** Where the full-sync gate's usage comes from (the supervisor). */
  setFullSyncGateProbe(probe: () => FullSyncGateUsage): void {
    this.gateProbe = probe;
  }

  /** The account's connection was removed: it no longer counts as stale. */
  forget(account: AccountKey): void {
    this.syncedSince.delete(accountId(account));
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
      label: `account="${escapeLabel(this.accountLabel(account))}"`, names: [], state: 'starting', mailbox,
      syncs: { ok: 0, venue_error: 0, overloaded: 0, error: 0 }, news: { yes: 0, no: 0 }, restarts: 0, lastSuccess: null, lastDuration: null,
    });
  }

  /** Removes every series of an account whose actor stopped. */
  untrack(account: AccountKey): void {
    if (!this.series.delete(accountId(account))) this.unlabelled = Math.max(0, this.unlabelled - 1);
  }

  setState(account: AccountKey, state: ActorStateName): void {
    const id = accountId(account);
    // Staleness starts at the first start that found the connection ('idle'): a request for an
    // account nobody connected (or one just removed) spawns an actor too, but never gets here.
    if (state === 'idle' && !this.syncedSince.has(id)) this.syncedSince.set(id, { venue: account.exchange, at: this.now() });
    const s = this.series.get(id);
    if (s !== undefined) s.state = state;
  }

  restarted(account: AccountKey): void {
    const s = this.series.get(accountId(account));
    if (s !== undefined) s.restarts += 1;
  }

  syncFinished(account: AccountKey, result: SyncResultLabel, durationMs: number, fillsIngested: number, finishedAt: number, venueFailure?: VenueFailureKind): void {
    this.syncDuration.observe({ venue: account.exchange }, durationMs / 1000);
    this.venueSyncs.inc({ venue: account.exchange, result });
    // Label values use underscores like every other label here ('rate-limited' → 'rate_limited').
    if (venueFailure !== undefined) this.venueFailures.inc({ venue: account.exchange, kind: venueFailure.replace(/-/gu, '_') });
    if (result === 'ok') this.syncedSince.set(accountId(account), { venue: account.exchange, at: finishedAt });
    if (result === 'ok' && fillsIngested > 0) this.fillsIngested.inc(fillsIngested);
    const s = this.series.get(accountId(account));
    if (s === undefined) return;
    s.syncs[result] += 1;
    s.lastDuration = durationMs / 1000;
    if (result === 'ok') {
      s.lastSuccess = finishedAt / 1000;
      if (fillsIngested > 0) s.news.yes += 1;
      else s.news.no += 1;
    }
  }
}
