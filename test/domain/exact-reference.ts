// An exact-decimal reference of the engine's rules (average cost or FIFO), written independently and
// simply: BigInt fixed point with 36 decimals, maps by asset name, one event at a time. Its only
// rounding is at 1e-36, far below the 1e-9 bound the float64 engine is held to.
import type { Balance, Candle, CashFlow, Fill } from '../../src/domain/types.js';

const SCALE = 10n ** 36n;
const H = 3_600_000;

export function dec(text: string): bigint {
  const negative = text.startsWith('-');
  const [whole = '0', frac = ''] = (negative ? text.slice(1) : text).split('.');
  const v = BigInt(whole) * SCALE + BigInt((frac + '0'.repeat(36)).slice(0, 36));
  return negative ? -v : v;
}
const mul = (a: bigint, b: bigint): bigint => (a * b) / SCALE;
const div = (a: bigint, b: bigint): bigint => (a * SCALE) / b;
export const toNumber = (v: bigint): number => Number(v) / 1e36;

export interface ReferenceInput {
  readonly baseCurrency: string;
  readonly openingBalances: readonly Balance[];
  readonly fills: readonly Fill[];
  readonly cashFlows: readonly CashFlow[];
  readonly candles: readonly Candle[];
  readonly startHour: number;
  readonly untilHour: number;
  readonly costMethod: 'average' | 'fifo';
}

export interface ReferenceHour {
  readonly hourStart: number;
  /** null: no return (non-positive equity without a flow, or a non-positive denominator). */
  readonly growth: bigint | null;
  readonly equityEnd: bigint;
}

export interface ReferenceResult {
  readonly hours: readonly ReferenceHour[];
  readonly growth: bigint;
  readonly realized: bigint;
  readonly unrealized: bigint;
  readonly fees: bigint;
}

export function referenceAggregate(input: ReferenceInput): ReferenceResult {
  const base = input.baseCurrency;
  const qty = new Map<string, bigint>();
  const cost = new Map<string, bigint>();
  const mark = new Map<string, bigint>([[base, SCALE]]);
  const lots = new Map<string, { qty: bigint; unit: bigint }[]>();
  const fifo = input.costMethod === 'fifo';
  const q = (a: string): bigint => qty.get(a) ?? 0n;
  const c = (a: string): bigint => cost.get(a) ?? 0n;
  let realized = 0n;
  let fees = 0n;
  let flowSum = 0n;
  let flowWeighted = 0n;
  let flows = 0;
  let hourEnd = 0;

  const closeAt = (boundary: number): Map<string, bigint> => {
    const out = new Map<string, bigint>();
    for (const k of input.candles) {
      const [asset = '', quote] = k.symbol.split('/');
      if (quote === base && k.openTime === boundary - H) out.set(asset, dec(k.close));
    }
    return out;
  };
  const unit = (a: string): bigint => mark.get(a) ?? (q(a) > 0n ? div(c(a), q(a)) : 0n);
  const flow = (value: bigint, t: number): void => {
    flowSum += value;
    flowWeighted += (value * BigInt(hourEnd - t)) / BigInt(H);
    flows++;
  };
  const increase = (a: string, n: bigint, u: bigint): void => {
    qty.set(a, q(a) + n);
    if (a !== base) cost.set(a, c(a) + mul(n, u));
    if (a !== base && fifo) lots.set(a, [...(lots.get(a) ?? []), { qty: n, unit: u }]);
  };
  const decrease = (a: string, n: bigint, u: bigint, t: number): void => {
    if (n > q(a)) {
      const shortfall = n - q(a);
      increase(a, shortfall, u);
      flow(mul(shortfall, u), t);
    }
    const held = q(a);
    qty.set(a, held - n);
    if (a === base) return;
    let removed: bigint;
    if (held === n) {
      removed = c(a);
      lots.set(a, []);
    } else if (fifo) {
      removed = 0n;
      let left = n;
      const open = lots.get(a) ?? [];
      while (left > 0n && open.length > 0) {
        const lot = open[0]!;
        const take = left < lot.qty ? left : lot.qty;
        removed += mul(take, lot.unit);
        left -= take;
        if (take === lot.qty) open.shift();
        else lot.qty -= take;
      }
    } else {
      removed = div(mul(c(a), n), held);
    }
    cost.set(a, c(a) - removed);
    realized += mul(n, u) - removed;
  };
  const equity = (): bigint => {
    let e = 0n;
    for (const [a, n] of qty) {
      if (n === 0n) continue;
      const m = mark.get(a);
      e += m === undefined ? c(a) : mul(n, m);
    }
    return e;
  };

  // First boundary: closes, else the open of the first hour's candle.
  for (const [a, m] of closeAt(input.startHour)) mark.set(a, m);
  for (const k of input.candles) {
    const [asset = '', quote] = k.symbol.split('/');
    if (quote === base && k.openTime === input.startHour && !closeAt(input.startHour).has(asset)) mark.set(asset, dec(k.open));
  }
  for (const b of input.openingBalances) increase(b.asset, dec(b.total), b.asset === base ? SCALE : unit(b.asset));

  type Event = { t: number; flow?: CashFlow; fill?: Fill };
  const events: Event[] = [
    ...input.cashFlows.map((f): Event => ({ t: f.occurredAt, flow: f })),
    ...input.fills.map((f): Event => ({ t: f.executedAt, fill: f })),
  ].sort((x, y) => x.t - y.t || (x.flow ? 0 : 1) - (y.flow ? 0 : 1));

  let eStart = equity();
  let growth = SCALE;
  const hours: ReferenceHour[] = [];
  let next = 0;
  for (let h = input.startHour; h < input.untilHour; h += H) {
    hourEnd = h + H;
    flowSum = 0n;
    flowWeighted = 0n;
    flows = 0;
    while (next < events.length && events[next]!.t < hourEnd) {
      const ev = events[next++]!;
      if (ev.flow) {
        const f = ev.flow;
        const u = f.asset === base ? SCALE : unit(f.asset);
        const amount = dec(f.amount);
        if (f.kind === 'deposit') { increase(f.asset, amount, u); flow(mul(amount, u), ev.t); }
        else { decrease(f.asset, amount, u, ev.t); flow(-mul(amount, u), ev.t); }
      } else {
        const f = ev.fill!;
        const qu = f.quoteAsset === base ? SCALE : unit(f.quoteAsset);
        const price = dec(f.price);
        const bu = mul(price, qu);
        const n = dec(f.quantity);
        const notional = mul(n, price);
        if (f.side === 'buy') { increase(f.baseAsset, n, bu); decrease(f.quoteAsset, notional, qu, ev.t); }
        else { decrease(f.baseAsset, n, bu, ev.t); increase(f.quoteAsset, notional, qu); }
        const fee = dec(f.fee);
        if (fee > 0n) {
          const fu = f.feeAsset === base ? SCALE : f.feeAsset === f.quoteAsset ? qu : f.feeAsset === f.baseAsset ? bu : unit(f.feeAsset);
          fees += mul(fee, fu);
          realized -= mul(fee, fu);
          decrease(f.feeAsset, fee, fu, ev.t);
        }
      }
    }
    for (const [a, m] of closeAt(hourEnd)) mark.set(a, m);
    const eEnd = equity();
    const den = eStart + flowWeighted;
    if ((flows === 0 && eStart <= 0n) || den <= 0n) {
      hours.push({ hourStart: h, growth: null, equityEnd: eEnd });
    } else {
      const g = SCALE + div(eEnd - eStart - flowSum, den);
      growth = mul(growth, g);
      hours.push({ hourStart: h, growth: g, equityEnd: eEnd });
    }
    eStart = eEnd;
  }
  let unrealized = 0n;
  for (const [a, n] of qty) {
    const m = mark.get(a);
    if (a !== base && n !== 0n && m !== undefined) unrealized += mul(n, m) - c(a);
  }
  return { hours, growth, realized, unrealized, fees };
}
