// Turns published aggregates into text for a terminal (tables, an equity chart) and into an SVG.
// Only aggregates reach here: returns, snapshots, performance figures, connection states and
// sync progress counts.
import { plot } from 'asciichart';
import type { PerformanceStats } from '../domain/aggregation.js';
import type { HourlyReturn, ParkedReason, SyncProgress } from '../domain/types.js';
import type { ConnectionInfo } from '../grpc/enclave-api.js';

const percent = (value: number | null): string => (value === null ? '—' : `${(value * 100).toFixed(4)}%`);
const ratio = (value: number | null): string => (value === null ? '—' : value.toFixed(3));
const money = (value: number): string => value.toFixed(2);
const hour = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));

/** Aligns rows of cells into columns; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  const line = (row: readonly string[]): string => row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  ');
  const [header, ...body] = rows;
  if (header === undefined) return '';
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function returnsTable(returns: readonly HourlyReturn[], last = 12): string {
  const shown = returns.slice(-last);
  return table([
    ['hour (UTC)', 'return', 'cumulative', 'equity', 'net flow', 'flags'],
    ...shown.map((r) => [hour(r.hourStart), percent(r.return), percent(r.cumulativeReturn), money(r.equityEnd), money(r.netFlow), r.flags?.join(',') ?? '']),
  ]);
}

export function performanceTable(m: PerformanceStats): string {
  return table([
    ['metric', 'value'],
    ['hours', String(m.hours)],
    ['cumulative return', percent(m.cumulativeReturn)],
    ['annualized return', percent(m.annualizedReturn)],
    ['annualized volatility', percent(m.annualizedVolatility)],
    ['max drawdown', percent(m.maxDrawdown)],
    ['drawdown peak', hour(m.maxDrawdownPeakHour)],
    ['drawdown trough', hour(m.maxDrawdownTroughHour)],
    ['sharpe', ratio(m.sharpe)],
    ['sortino', ratio(m.sortino)],
    ['calmar', ratio(m.calmar)],
    ['positive hours', percent(m.positiveHourShare)],
    ['best hour', percent(m.bestHour)],
    ['worst hour', percent(m.worstHour)],
    ['total fees', money(m.totalFees)],
    ['realized P&L', money(m.realizedPnl)],
    ['unrealized P&L', money(m.unrealizedPnl)],
    // A server that states the share of flagged hours (issue 17); older ones say nothing.
    ...(m.flaggedHourShare === undefined ? [] : [
      ['flagged hours', percent(m.flaggedHourShare)],
      ...(m.flagShares ?? []).map((f): [string, string] => [`  ${f.flag}`, percent(f.share)]),
    ]),
  ]);
}

const PARKED_REASON_WORDS: Record<ParkedReason, string> = {
  venue_auth: 'venue auth refused',
  venue_unavailable: 'venue unavailable',
  internal: 'internal error',
  tamper: 'tamper detected',
};

/** Why an account is parked, in words; '—' when it is not. */
export function parkedReasonText(reason: ParkedReason | null): string {
  return reason === null ? '—' : PARKED_REASON_WORDS[reason];
}

export function connectionsTable(connections: readonly ConnectionInfo[]): string {
  return table([
    ['user', 'exchange', 'status', 'disclosure', 'parked because'],
    ...connections.map((c) => [c.account.userUid, c.account.exchange, c.status, c.disclosureLevel, parkedReasonText(c.parkedReason)]),
  ]);
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The progress bar's text: pages and records per stream while fetching, then hours of hours total. */
export function syncProgressText(p: SyncProgress): string {
  const fetched = `${plural(p.fillsFetched, 'fill', 'fills')} in ${plural(p.fillPages, 'page', 'pages')}, ${plural(p.cashFlowsFetched, 'cash flow', 'cash flows')} in ${plural(p.cashFlowPages, 'page', 'pages')}`;
  return p.phase === 'fetching' ? fetched : `${p.hoursDone}/${p.hoursTotal} hours | ${fetched}`;
}

/** Growth of 1 unit, downsampled to at most `width` points (last value of each bucket). */
export function growthCurve(returns: readonly HourlyReturn[], width: number): number[] {
  if (returns.length === 0) return [];
  const step = Math.max(1, Math.ceil(returns.length / width));
  const points: number[] = [];
  for (let i = step - 1; i < returns.length + step - 1; i += step) {
    points.push(1 + (returns[Math.min(i, returns.length - 1)]?.cumulativeReturn ?? 0));
  }
  return points;
}

export function equityChart(returns: readonly HourlyReturn[], width = 72, height = 12): string {
  const points = growthCurve(returns, width);
  if (points.length < 2) return '(not enough hours for a chart)';
  return plot(points, { height, format: (value) => value.toFixed(4).padStart(9) });
}

/** A self-contained SVG line chart of the growth of 1 unit. */
export function equitySvg(returns: readonly HourlyReturn[], width = 800, height = 300): string {
  const points = growthCurve(returns, width);
  const min = Math.min(...points, 1);
  const max = Math.max(...points, 1);
  const span = max - min || 1;
  const x = (i: number): string => ((i / Math.max(1, points.length - 1)) * (width - 20) + 10).toFixed(1);
  const y = (v: number): string => (height - 10 - ((v - min) / span) * (height - 20)).toFixed(1);
  const path = points.map((v, i) => `${x(i)},${y(v)}`).join(' ');
  const first = returns[0]?.hourStart ?? null;
  const last = returns.at(-1)?.hourStart ?? null;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>Growth of 1 unit, ${hour(first)} to ${hour(last)} UTC</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<line x1="10" x2="${width - 10}" y1="${y(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 4"/>`,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${path}"/>`,
    `<text x="12" y="16" font-family="sans-serif" font-size="12">max ${max.toFixed(4)}  min ${min.toFixed(4)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
