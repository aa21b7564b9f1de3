// Reconciliation: after every sync, the holdings rebuilt from recorded events are compared with
// the balances the venue reports. A difference beyond tolerance becomes one explicit adjustment
// (adjustment-in / adjustment-out, an external flow at the mark: see events.ts) at the time it was
// found, flagged `unreconciled`; nothing is corrected silently. A difference is booked only once
// the sync before saw it too, with the same sign (the smaller of the two amounts): a fill the venue
// has not yet served to its history endpoint (settle lag) must not become an adjustment and then
// count a second time when it arrives. Until then it is reported and flagged, not booked. The published figure is the share
// of the venue-reported equity that recorded events explain.
//
// Per wallet (venues that report wallets apart: Binance spot/funding/earn/futures, Bybit unified/
// fund): recorded events do not say which wallet they touched and moves between the account's own
// wallets are no events, so a wallet's expected balance is not known. What is known is how each
// wallet moved since the previous reconciliation; the records since then are credited to the main
// (trading) wallet. The part of an asset's difference that is new since the previous sync is
// attributed to the wallets that moved in its direction beyond what the records explain, in
// proportion to that move. A transfer between wallets moves one down and another up by the same
// amount: such equal and opposite moves are set aside first, so a transfer into the funding wallet
// does not take a share of an Earn reward that arrived at the same time. Moves that do not pair up
// (a transfer and a fee in one, several transfers split) are shared in proportion: approximate. Each wallet's share is booked on its own, under the same
// seen-twice rule, as one adjustment per (asset, wallet): an unread Earn reward lands as an
// adjustment of the earn wallet, an airdrop in spot as one of the main wallet. The published figure
// stays per account.
import type { DataGap } from './aggregation.js';
import { decimalToNumber } from './decimal.js';
import { directionOf } from './events.js';
import { numberToDecimal } from './decimal-string.js';
import type { Balance, CashFlow, EpochMs, Fill } from './types.js';

const HOUR_MS = 3_600_000;

export const UNRECONCILED_TREATMENT = 'the holdings rebuilt from recorded events differed from the balances the venue reports: the difference was booked as an adjustment (an external flow at the mark, so it creates no return) at the hour it was found';

export interface ReconcileInput {
  /** Holdings at the engine's last boundary (its saved positions). */
  readonly positions: readonly { readonly asset: string; readonly quantity: number }[];
  /** Records stored after that boundary (not yet valued): their effect is added. */
  readonly pendingFills: readonly Fill[];
  readonly pendingFlows: readonly CashFlow[];
  /** What the venue reports now. */
  readonly balances: readonly Balance[];
  /** Last known marks in the base currency (the base currency itself is 1). */
  readonly marks: ReadonlyMap<string, number>;
  readonly baseCurrency: string;
  readonly foundAt: EpochMs;
  /** Differences the previous reconciliation reported (none on a first sync). */
  readonly previous: readonly AssetDifference[];
  /** The per-wallet balances the previous reconciliation saw (absent: first sync, or no wallets). */
  readonly previousWalletBalances?: readonly WalletBalance[] | undefined;
  /** Differences worth less than this in the base currency are dust, not adjustments. */
  readonly valueTolerance?: number;
  /** Relative quantity tolerance (float and venue rounding). */
  readonly relativeTolerance?: number;
}

export interface AssetDifference {
  readonly asset: string;
  /** Venue balance − rebuilt holding (units). */
  readonly difference: number;
  /** |difference| at its mark; null when the asset has no mark. */
  readonly value: number | null;
  /** Units booked as adjustments by this reconciliation (absent: none). */
  readonly booked?: number;
  /** Where the venue reports wallets: the difference attributed to each wallet (sums to `difference` up to dust). */
  readonly wallets?: readonly WalletDifference[];
}

/** The main (trading) wallet: balances without a `wallet` tag. */
export const MAIN_WALLET = 'main';

export interface WalletDifference {
  readonly wallet: string;
  /** The share of the asset's difference attributed to this wallet (units, signed). */
  readonly difference: number;
  /** Units booked as this wallet's adjustment by this reconciliation (signed; 0: none). */
  readonly booked: number;
}

/** One asset in one wallet, as the venue reported it. */
export interface WalletBalance {
  readonly asset: string;
  readonly wallet: string;
  readonly total: number;
}

export interface Reconciliation {
  readonly at: EpochMs;
  readonly differences: readonly AssetDifference[];
  /** One per asset whose difference persisted since the previous sync; store them like any cash flow. */
  readonly adjustments: readonly CashFlow[];
  /** Share of the venue-reported equity explained by recorded events, in [0, 1] (1 when equity is 0 and nothing differs). */
  readonly explainedShare: number;
  /** Equity from the venue's balances at the known marks. */
  readonly venueEquity: number;
  readonly gaps: readonly DataGap[];
  /** The venue's per-wallet balances, to pass as `previousWalletBalances` next time (empty without wallets). */
  readonly walletBalances: readonly WalletBalance[];
}

/** Quantities per asset after applying fills (legs and fee) and flows to `start`. */
export function applyRecords(start: Map<string, number>, fills: readonly Fill[], flows: readonly CashFlow[]): Map<string, number> {
  const held = new Map(start);
  const add = (asset: string, q: number): void => { held.set(asset, (held.get(asset) ?? 0) + q); };
  for (const f of fills) {
    const q = decimalToNumber(f.quantity);
    const notional = q * decimalToNumber(f.price);
    if (f.baseAsset !== f.quoteAsset) {
      add(f.baseAsset, f.side === 'buy' ? q : -q);
      add(f.quoteAsset, f.side === 'buy' ? -notional : notional);
    }
    add(f.feeAsset, -decimalToNumber(f.fee));
  }
  for (const c of flows) add(c.asset, directionOf(c.kind) * decimalToNumber(c.amount));
  return held;
}

export function reconcile(input: ReconcileInput): Reconciliation {
  const valueTolerance = input.valueTolerance ?? 0.01;
  const relativeTolerance = input.relativeTolerance ?? 1e-6;
  const rebuilt = applyRecords(new Map(input.positions.map((p) => [p.asset, p.quantity])), input.pendingFills, input.pendingFlows);
  const venue = new Map<string, number>();
  /** Per asset, per wallet. */
  const walletBalances = new Map<string, Map<string, number>>();
  const add = (into: Map<string, Map<string, number>>, asset: string, wallet: string, q: number): void => {
    const wallets = into.get(asset) ?? new Map<string, number>();
    wallets.set(wallet, (wallets.get(wallet) ?? 0) + q);
    into.set(asset, wallets);
  };
  for (const b of input.balances) {
    const q = decimalToNumber(b.total);
    venue.set(b.asset, (venue.get(b.asset) ?? 0) + q);
    add(walletBalances, b.asset, b.wallet ?? MAIN_WALLET, q);
  }
  const byWallet = input.balances.some((b) => b.wallet !== undefined);
  const previousBalances = new Map<string, Map<string, number>>();
  for (const w of input.previousWalletBalances ?? []) add(previousBalances, w.asset, w.wallet, w.total);
  const previousDifferences = new Map(input.previous.map((d) => [d.asset, d]));
  const none = new Map<string, number>();
  const markOf = (asset: string): number | undefined => (asset === input.baseCurrency ? 1 : input.marks.get(asset));
  const assets = [...new Set([...rebuilt.keys(), ...venue.keys()])].sort();
  const differences: AssetDifference[] = [];
  const adjustments: CashFlow[] = [];
  let venueEquity = 0;
  let unexplained = 0;
  for (const asset of assets) {
    const expected = rebuilt.get(asset) ?? 0;
    const reported = venue.get(asset) ?? 0;
    const mark = markOf(asset);
    if (mark !== undefined) venueEquity += reported * mark;
    const difference = reported - expected;
    const scale = Math.max(Math.abs(expected), Math.abs(reported));
    if (Math.abs(difference) <= relativeTolerance * scale + 1e-12) continue;
    const value = mark === undefined ? null : Math.abs(difference) * mark;
    if (value !== null && value < valueTolerance) continue;
    if (value !== null) unexplained += value;
    const before = previousDifferences.get(asset);
    const shares = byWallet
      ? attribute(difference, expected, before, walletBalances.get(asset) ?? none, previousBalances.get(asset) ?? none, input.previousWalletBalances !== undefined)
      : [{ wallet: MAIN_WALLET, difference }];
    // What the previous reconciliation left unbooked per wallet: only that can be confirmed now.
    const residual = new Map((before === undefined ? [] : previousShares(before)).map((w) => [w.wallet, w.difference - w.booked]));
    const wallets: WalletDifference[] = [];
    let bookedTotal = 0;
    for (const share of shares) {
      const left = residual.get(share.wallet) ?? 0;
      const same = Math.sign(left) === Math.sign(share.difference) && left !== 0;
      const amount = same ? Math.min(Math.abs(left), Math.abs(share.difference)) : 0;
      const significant = mark === undefined || amount * mark >= valueTolerance;
      const booked = amount > 0 && significant ? Math.sign(share.difference) * amount : 0;
      wallets.push({ wallet: share.wallet, difference: share.difference, booked });
      if (booked === 0) continue;
      bookedTotal += booked;
      adjustments.push({
        exchangeFlowId: share.wallet === MAIN_WALLET ? `reconcile:${asset}:${input.foundAt}` : `reconcile:${asset}@${share.wallet}:${input.foundAt}`,
        kind: booked > 0 ? 'adjustment-in' : 'adjustment-out',
        asset,
        amount: numberToDecimal(Math.abs(booked)),
        occurredAt: input.foundAt,
      });
    }
    differences.push({ asset, difference, value, ...(bookedTotal === 0 ? {} : { booked: bookedTotal }), ...(byWallet ? { wallets } : {}) });
  }
  const explainedShare = venueEquity > 0 ? Math.max(0, Math.min(1, 1 - unexplained / venueEquity)) : differences.length === 0 ? 1 : 0;
  const hourStart = Math.floor(input.foundAt / HOUR_MS) * HOUR_MS;
  const gaps: DataGap[] = differences.map((d) => ({ kind: 'unreconciled', asset: d.asset, hourStart, treatment: UNRECONCILED_TREATMENT }));
  const walletList = byWallet
    ? [...walletBalances].flatMap(([asset, wallets]) => [...wallets].filter(([, total]) => total !== 0).map(([wallet, total]) => ({ asset, wallet, total })))
      .sort((a, b) => (a.asset === b.asset ? (a.wallet < b.wallet ? -1 : 1) : a.asset < b.asset ? -1 : 1))
    : [];
  return { at: input.foundAt, differences, adjustments, explainedShare, venueEquity, gaps, walletBalances: walletList };
}

/** A previous difference per wallet (one main-wallet share for differences stored before wallets). */
function previousShares(d: AssetDifference): readonly WalletDifference[] {
  return d.wallets ?? [{ wallet: MAIN_WALLET, difference: d.difference, booked: d.booked ?? 0 }];
}

/**
 * Splits an asset's difference over its wallets (see the header): what the previous sync left
 * unbooked stays with its wallet; the new part goes to the wallets that moved in its direction
 * beyond the records, in proportion to that move (all to the main wallet when none did).
 */
function attribute(
  difference: number, expected: number, before: AssetDifference | undefined,
  balances: ReadonlyMap<string, number>, previous: ReadonlyMap<string, number>, previousKnown: boolean,
): { wallet: string; difference: number }[] {
  const carried = new Map<string, number>();
  let carriedTotal = 0;
  let bookedBefore = 0;
  if (before !== undefined && previousKnown) {
    for (const w of previousShares(before)) {
      carried.set(w.wallet, w.difference - w.booked);
      carriedTotal += w.difference - w.booked;
      bookedBefore += w.booked;
    }
  }
  const wallets = new Set<string>([MAIN_WALLET, ...carried.keys()]);
  for (const wallet of [...balances.keys(), ...previous.keys()]) wallets.add(wallet);
  // Records since the previous reconciliation, without the adjustments it booked: rebuilt now − rebuilt then.
  let previousTotal = 0;
  for (const wallet of wallets) previousTotal += previous.get(wallet) ?? 0;
  const recordsSince = previousKnown ? expected - bookedBefore - (previousTotal - (before?.difference ?? 0)) : expected;
  const newPart = difference - carriedTotal;
  const raw = [...wallets].map((wallet) => {
    const then = previousKnown ? previous.get(wallet) ?? 0 : 0;
    return { wallet, move: (balances.get(wallet) ?? 0) - then - (wallet === MAIN_WALLET ? recordsSince : 0) };
  });
  // A move out of one wallet matched by an equal move into another is a transfer between them: out.
  for (const out of raw) {
    if (out.move >= 0) continue;
    const into = raw.find((m) => m.move > 0 && Math.abs(m.move + out.move) <= 1e-9 * Math.max(1, m.move));
    if (into !== undefined) { into.move = 0; out.move = 0; }
  }
  const moves = raw.map(({ wallet, move }) => ({ wallet, move: Math.sign(move) === Math.sign(newPart) ? Math.abs(move) : 0 }));
  const total = moves.reduce((sum, m) => sum + m.move, 0);
  const out = new Map(carried);
  for (const m of moves) {
    const share = total > 0 ? newPart * m.move / total : m.wallet === MAIN_WALLET ? newPart : 0;
    out.set(m.wallet, (out.get(m.wallet) ?? 0) + share);
  }
  const tolerance = 1e-9 * Math.max(1, Math.abs(difference));
  return [...out].filter(([, d]) => Math.abs(d) > tolerance).map(([wallet, d]) => ({ wallet, difference: d })).sort((a, b) => (a.wallet < b.wallet ? -1 : 1));
}
