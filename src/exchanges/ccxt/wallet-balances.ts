// Balances held outside the wallet ccxt's fetchBalance reads (issue 16, item 4). Binance's
// /api/v3/account is the spot wallet only: the funding wallet (P2P, fiat, Pay) and Simple Earn
// positions (where subscribed coins and flexible rewards sit) are reported apart. Bybit's
// wallet-balance is the unified trading account only: the funding wallet (FUND), where internal
// and many on-chain deposits land, is reported apart. Reconciliation compares the rebuilt holdings
// with the sum over every wallet per asset: moves between wallets are not events of the account,
// so the per-wallet amounts are reported (Balance.wallet) and reconcile.ts attributes a difference
// to the wallet it appeared in. Binance margin wallets (cross: `margin`, isolated pairs: `isolated`)
// count at their net asset (free + locked − borrowed − interest): a borrow moves nothing, interest
// lowers it as the interest records do; an account that never opened margin answers -3003.
import { z } from 'zod';
import type { binance, bitget, bybit } from 'ccxt';
import { addDecimal, isZeroDecimal, normalizeDecimal } from '../../domain/decimal-string.js';
import type { Balance } from '../../domain/types.js';
import { VenueError } from '../errors.js';
import { classifyCcxtError } from './ccxt-errors.js';
import { ExchangeError } from './ccxt-modules.js';
import type { CcxtVenue } from './ccxt-client.js';
import type { ExtrasCall } from './extra-streams.js';

const decimal = z.string().regex(/^-?\d+(\.\d+)?$/u);
const count = z.union([z.number().int(), z.string().regex(/^\d+$/u).transform(Number)]);

/** Docs: https://developers.binance.com/docs/wallet/asset/funding-wallet (POST /sapi/v1/asset/get-funding-asset). */
const fundingBody = z.array(z.object({ asset: z.string(), free: decimal, locked: decimal, freeze: decimal, withdrawing: decimal }));
/** Docs: https://developers.binance.com/docs/simple_earn/account/Get-Flexible-Product-Position */
const flexibleBody = z.object({ rows: z.array(z.object({ asset: z.string(), totalAmount: decimal })), total: count });
/** Docs: https://developers.binance.com/docs/simple_earn/account/Get-Locked-Product-Position */
const lockedBody = z.object({ rows: z.array(z.object({ asset: z.string(), amount: decimal })), total: count });
/** Docs: https://developers.binance.com/docs/margin_trading/account/Query-Cross-Margin-Account-Details (userAssets). */
const crossMarginBody = z.object({ userAssets: z.array(z.object({ asset: z.string(), netAsset: decimal })) });
/** Docs: https://developers.binance.com/docs/margin_trading/account/Query-Isolated-Margin-Account-Info (assets[].baseAsset/quoteAsset). */
const isolatedSide = z.object({ asset: z.string(), netAsset: decimal });
const isolatedMarginBody = z.object({ assets: z.array(z.object({ baseAsset: isolatedSide, quoteAsset: isolatedSide })) });
/**
 * Docs: https://www.bitget.com/api-doc/margin/cross/account/Get-Cross-Assets and
 * https://www.bitget.com/api-doc/margin/isolated/account/Get-Isolated-Assets (examples also quoted in
 * ccxt's bitget.js fetchBalance); `net` = totalAmount − borrow − interest.
 */
const bitgetMarginBody = z.object({ data: z.array(z.object({ coin: z.string(), net: decimal })).nullable().transform((x) => x ?? []) });
/** Docs: https://bybit-exchange.github.io/docs/v5/asset/balance/all-balance (accountType FUND). */
const bybitFundBody = z.object({ result: z.object({ balance: z.array(z.object({ coin: z.string(), walletBalance: decimal })) }) });

function parse<T>(venue: CcxtVenue, schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new VenueError(venue, 'bad-response', { errorClass: 'MissingBalances' });
  return result.data;
}

function tagged(wallet: string, entries: readonly (readonly [string, string])[]): Balance[] {
  const sums = new Map<string, string>();
  for (const [asset, amount] of entries) sums.set(asset, addDecimal(sums.get(asset) ?? '0', normalizeDecimal(amount)));
  return [...sums].filter(([, total]) => !isZeroDecimal(total)).map(([asset, total]) => ({ asset, total, wallet }));
}

/**
 * A margin endpoint of an account that never opened margin: Binance's -3003 "Margin account does not
 * exist." (ccxt maps no class to it on sapi paths: a plain ExchangeError carrying the venue's code).
 */
export async function unlessNoMargin(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ExchangeError && error.message.includes('"code":-3003')) return null;
    throw error;
  }
}

/**
 * A Bitget margin wallet the key cannot read or the account never opened: refused for good (not a
 * transient failure) means no such wallet here, so reconciliation still runs; what sits there then
 * shows as an unreconciled difference instead of failing every balance read.
 */
async function unlessRefused(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    const kind = classifyCcxtError(error, undefined).kind;
    if (kind === 'rejected' || kind === 'auth') return null;
    throw error;
  }
}

async function pagedRows<R>(fetchPage: (current: number) => Promise<{ rows: R[]; total: number }>): Promise<R[]> {
  const out: R[] = [];
  for (let current = 1; ; current += 1) {
    const page = await fetchPage(current);
    out.push(...page.rows);
    if (page.rows.length < 100 || out.length >= page.total) return out;
  }
}

/** Balances of the venue's other wallets, each tagged with its wallet (none for MEXC). */
export async function otherWalletBalances(venue: CcxtVenue, client: unknown, call: ExtrasCall): Promise<Balance[]> {
  switch (venue) {
    case 'binance': {
      const b = client as binance;
      const funding = parse(venue, fundingBody, await call('fundingWallet', async () => await b.sapiPostAssetGetFundingAsset({})));
      const flexible = await pagedRows(async (current) => parse(venue, flexibleBody, await call('earnFlexiblePosition', async () => await b.sapiGetSimpleEarnFlexiblePosition({ current, size: 100 }))));
      const locked = await pagedRows(async (current) => parse(venue, lockedBody, await call('earnLockedPosition', async () => await b.sapiGetSimpleEarnLockedPosition({ current, size: 100 }))));
      const cross = await call('crossMarginAccount', async () => await unlessNoMargin(async () => await b.sapiGetMarginAccount({})));
      const isolated = await call('isolatedMarginAccount', async () => await unlessNoMargin(async () => await b.sapiGetMarginIsolatedAccount({})));
      return [
        ...tagged('funding', funding.flatMap((f) => [[f.asset, f.free], [f.asset, f.locked], [f.asset, f.freeze], [f.asset, f.withdrawing]] as const)),
        ...tagged('earn', [...flexible.map((r) => [r.asset, r.totalAmount] as const), ...locked.map((r) => [r.asset, r.amount] as const)]),
        ...(cross === null ? [] : tagged('margin', parse(venue, crossMarginBody, cross).userAssets.map((a) => [a.asset, a.netAsset] as const))),
        ...(isolated === null ? [] : tagged('isolated', parse(venue, isolatedMarginBody, isolated).assets.flatMap((p) => [[p.baseAsset.asset, p.baseAsset.netAsset], [p.quoteAsset.asset, p.quoteAsset.netAsset]] as const))),
      ];
    }
    case 'bybit': {
      const b = client as bybit;
      const fund = parse(venue, bybitFundBody, await call('fundingWallet', async () => await b.privateGetV5AssetTransferQueryAccountCoinsBalance({ accountType: 'FUND' })));
      return tagged('funding', fund.result.balance.map((c) => [c.coin, c.walletBalance] as const));
    }
    case 'bitget': {
      const b = client as bitget;
      const cross = await call('crossMarginAssets', async () => await unlessRefused(async () => await b.privateMarginGetV2MarginCrossedAccountAssets({})));
      const isolated = await call('isolatedMarginAssets', async () => await unlessRefused(async () => await b.privateMarginGetV2MarginIsolatedAccountAssets({})));
      return [
        ...(cross === null ? [] : tagged('margin', parse(venue, bitgetMarginBody, cross).data.map((a) => [a.coin, a.net] as const))),
        ...(isolated === null ? [] : tagged('isolated', parse(venue, bitgetMarginBody, isolated).data.map((a) => [a.coin, a.net] as const))),
      ];
    }
    case 'mexc':
      return [];
  }
}
