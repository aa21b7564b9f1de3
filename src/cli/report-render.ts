// `enclave report`: a performance report as text (figures, monthly and yearly tables, notes).
import type { AccountReport } from '../grpc/enclave-api.js';
import { table } from './render.js';

const percent = (value: number | null): string => (value === null ? '—' : `${(value * 100).toFixed(2)}%`);
const ratio = (value: number | null): string => (value === null ? '—' : value.toFixed(3));
const day = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));

export function reportText({ report: r, baseCurrency, exchanges, nettedTransferHours }: AccountReport): string {
  const lines: string[] = [];
  lines.push(`${exchanges.join(' + ')} · ${r.period.kind} ${day(r.period.from)} → ${day(r.period.to)} UTC · in ${r.currency} (base ${baseCurrency})`);
  const d = r.drawdown;
  const rows: string[][] = [
    ['figure', 'value'],
    ['hours (valued)', `${r.hours} (${r.valuedHours})`],
    ['flagged hours', percent(r.flaggedHourShare)],
    ['time-weighted return', percent(r.timeWeightedReturn)],
    ['annualized return', percent(r.annualizedReturn)],
    ['money-weighted return', percent(r.moneyWeightedReturn)],
    ['annualized MWR', percent(r.annualizedMoneyWeightedReturn)],
    ['volatility (hourly × √8760)', percent(r.annualizedVolatility)],
    ['3-year SD (GIPS, monthly)', percent(r.threeYearStandardDeviation)],
    [`sharpe (rf ${percent(r.riskFreeRate)})`, ratio(r.sharpe)],
    [`sortino (target ${percent(r.sortinoTarget)})`, ratio(r.sortino)],
    [`calmar${r.calmarMonths === null ? '' : ` (${r.calmarMonths} months)`}`, ratio(r.calmar)],
    ['max drawdown', percent(d.depth)],
    ['drawdown peak → trough', `${day(d.peakAt)} → ${day(d.troughAt)}`],
    ['recovered', d.recoveredAt === null ? 'not yet' : `${day(d.recoveredAt)} (${d.recoveryHours} h)`],
    ['best / worst month', `${r.bestMonth === null ? '—' : `${r.bestMonth.label} ${percent(r.bestMonth.return)}`} / ${r.worstMonth === null ? '—' : `${r.worstMonth.label} ${percent(r.worstMonth.return)}`}`],
    ['positive months', percent(r.positiveMonthShare)],
  ];
  for (const f of r.flagShares) rows.push([`  flag ${f.flag}`, percent(f.share)]);
  if (nettedTransferHours > 0) rows.push(['hours with own-account transfers', String(nettedTransferHours)]);
  const b = r.benchmark;
  if (b !== null) {
    rows.push(
      [`benchmark ${b.name}`, percent(b.benchmarkReturn)],
      ['excess return', percent(b.excessReturn)],
      ['beta / correlation', `${ratio(b.beta)} / ${ratio(b.correlation)}`],
      ['tracking error / information ratio', `${percent(b.trackingError)} / ${ratio(b.informationRatio)}`],
      ['up / down capture', `${ratio(b.upCapture)} / ${ratio(b.downCapture)}`],
    );
  }
  const p = r.tradeStatistics;
  if (p !== null) {
    rows.push(
      ['closed positions: win rate', percent(p.winRate)],
      ['profit factor', ratio(p.profitFactor)],
      ['average win / average loss', ratio(p.averageWinLossRatio)],
      ['average holding', `${p.averageHoldingHours.toFixed(1)} h`],
      ['longest losing streak', `${p.longestLosingStreak} positions`],
    );
  }
  lines.push(table(rows));
  if (r.monthly.length > 0) {
    lines.push('', table([['month', 'return', 'flagged'], ...r.monthly.map((m) => [`${m.label}${m.partial ? '*' : ''}`, percent(m.return), percent(m.flaggedShare)])]));
  }
  if (r.yearly.length > 0) {
    lines.push('', table([['year', 'return', 'flagged'], ...r.yearly.map((y) => [`${y.label}${y.partial ? '*' : ''}`, percent(y.return), percent(y.flaggedShare)])]));
    lines.push('* partial: the period covers only part of it');
  }
  if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `note: ${n}`));
  return `${lines.join('\n')}\n`;
}
