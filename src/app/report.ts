// GetPerformanceReport: reads published hours, stored public candles and (for closed-position
// ratios) fills straight from storage, without the account actors (a report changes nothing), and
// hands them to the pure report module. Fills never leave this function: only ratios do.
import type { AccountStore } from '../storage/account-store.js';
import type { ConnectionRepository } from '../storage/connections.js';
import { AccountNotFoundError } from '../actors/errors.js';
import type { AccountReport, CallContext, EnclaveApi, ReportRequest } from '../grpc/enclave-api.js';
import type { AccountKey, Candle, Exchange, Fill } from '../domain/types.js';
import type { PublishedDerivatives } from '../domain/derivatives/aggregates.js';
import { decimalToNumber } from '../domain/decimal.js';
import { benchmarkReturns } from '../domain/report/benchmark.js';
import { benchmarkSymbols, conversionOf, NOTE_USD_PEG, USD_PEGGED, VENUE_BASE_CURRENCY } from '../domain/report/currency.js';
import { resolvePeriod } from '../domain/report/periods.js';
import { buildPerformanceReport, NOTE_NO_BENCHMARK } from '../domain/report/report.js';
import { compositeOf, convertSeries, HOUR_MS, reportHoursOf, type ReportHour } from '../domain/report/series.js';
import { tradeStatistics } from '../domain/report/trade-statistics.js';

export interface ReportDeps {
  readonly store: AccountStore;
  readonly connections: ConnectionRepository;
  readonly now?: () => number;
}

export const NOTE_NO_CONVERSION = 'hours without a public price to convert them into the report currency are left unvalued';

/** Price at boundary t = close of the candle [t − 1h, t). */
function closesByBoundary(candles: readonly Candle[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of candles) out.set(c.openTime + HOUR_MS, decimalToNumber(c.close));
  return out;
}

export function createReportReader(deps: ReportDeps): Pick<EnclaveApi, 'getPerformanceReport'> {
  const now = deps.now ?? Date.now;
  const { store } = deps;

  async function accountsOf(request: ReportRequest): Promise<AccountKey[]> {
    const stored = (await deps.connections.listConnections()).filter((c) => c.account.userUid === request.userUid);
    const accounts = stored.map((c) => c.account).filter((a) => request.exchange === null || a.exchange === request.exchange);
    if (accounts.length === 0) throw new AccountNotFoundError(request.exchange === null ? 'no account is connected for this user' : 'no account is connected for this user and exchange');
    return accounts.sort((a, b) => (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : 0));
  }

  return {
    async getPerformanceReport(request: ReportRequest, call: CallContext): Promise<AccountReport> {
      const accounts = await accountsOf(request);
      call.signal.throwIfAborted();
      const until = Math.ceil(now() / HOUR_MS) * HOUR_MS;
      const bases = [...new Set(accounts.map((a) => VENUE_BASE_CURRENCY[a.exchange]))];
      const baseCurrency = bases.length === 1 ? bases[0]! : 'USD';
      const currency = request.currency ?? baseCurrency;
      const notes: string[] = [];
      if (currency === 'USD' && accounts.some((a) => (USD_PEGGED as readonly string[]).includes(VENUE_BASE_CURRENCY[a.exchange]))) notes.push(NOTE_USD_PEG);

      const series: ReportHour[][] = [];
      let inception = Infinity;
      let end = -Infinity;
      for (const account of accounts) {
        const published = await store.loadHourlyReturns(account, 0, until);
        call.signal.throwIfAborted();
        if (published.length === 0) continue;
        inception = Math.min(inception, published[0]!.hourStart);
        end = Math.max(end, published.at(-1)!.hourStart + HOUR_MS);
        let hours = reportHoursOf(published);
        const base = VENUE_BASE_CURRENCY[account.exchange];
        const conversion = conversionOf(base, currency);
        if (conversion === null || conversion.kind === 'inverse') {
          const symbol = conversion?.symbol;
          const closes = symbol === undefined ? new Map<number, number>()
            : closesByBoundary(await store.loadCandles(account.exchange, [symbol], published[0]!.hourStart - HOUR_MS, end));
          hours = convertSeries(hours, (t) => { const p = closes.get(t); return p === undefined ? null : 1 / p; });
          if (hours.some((h) => h.return === null) && !notes.includes(NOTE_NO_CONVERSION)) notes.push(NOTE_NO_CONVERSION);
        }
        series.push(hours);
      }
      if (!Number.isFinite(inception)) { inception = until; end = until; }
      const period = resolvePeriod(request.period, end, inception, request.custom ?? undefined);
      const composite = compositeOf(series);
      const inPeriod = composite.hours.filter((h) => h.hourStart >= period.from && h.hourStart < period.to);

      let benchmark: { name: string; returns: Map<number, number> } | null = null;
      if (request.benchmark !== null) {
        const first = accounts[0]!;
        const base = VENUE_BASE_CURRENCY[first.exchange];
        const symbols = benchmarkSymbols(request.benchmark, base);
        const candles = await store.loadCandles(first.exchange, symbols, period.from - HOUR_MS, period.to);
        let returns = benchmarkReturns(candles, symbols, period.from, period.to);
        const conversion = conversionOf(base, currency);
        if (conversion?.kind === 'inverse') {
          const closes = closesByBoundary(await store.loadCandles(first.exchange, [conversion.symbol], period.from - HOUR_MS, period.to));
          const converted = new Map<number, number>();
          for (const [h, r] of returns) {
            const a = closes.get(h);
            const b = closes.get(h + HOUR_MS);
            if (a !== undefined && b !== undefined) converted.set(h, (1 + r) * (a / b) - 1);
          }
          returns = converted;
        }
        if (returns.size === 0) notes.push(NOTE_NO_BENCHMARK);
        else benchmark = { name: request.benchmark, returns };
      }

      // Closed-position ratios, inside the enclave: symbols are kept apart per venue.
      const fills: Fill[] = [];
      for (const account of accounts) {
        for (const f of await store.loadFills(account, 0)) fills.push({ ...f, symbol: `${account.exchange}:${f.symbol}` });
        call.signal.throwIfAborted();
      }
      const positions = tradeStatistics(fills, period.from, period.to);
      fills.length = 0;

      const report = buildPerformanceReport({ currency, period, hours: inPeriod, options: request.options, benchmark, tradeStatistics: positions });
      // Ratios and counts of the whole record (every disclosure level may see them): docs/derivatives.md.
      const derivatives: { exchange: Exchange; metrics: PublishedDerivatives }[] = [];
      for (const account of accounts) {
        const metrics = await store.loadDerivatives?.(account, { from: 0, to: 0 }) ?? null;
        if (metrics !== null) derivatives.push({ exchange: account.exchange, metrics });
      }
      return {
        ...(derivatives.length === 0 ? {} : { derivatives }),
        report: { ...report, notes: [...notes, ...report.notes] },
        baseCurrency,
        exchanges: accounts.map((a): Exchange => a.exchange),
        nettedTransferHours: composite.nettedTransferHours,
      };
    },
  };
}
