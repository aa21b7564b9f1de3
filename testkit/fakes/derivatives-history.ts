// A derivatives history a fake venue serves besides the spot account (history.ts): contracts,
// executions, ledger rows and mark prices, in venue-neutral form. Venue modules render it.

export interface SyntheticContract {
  /** The venue's symbol (Bybit: BTCUSDT, BTCUSD). */
  readonly raw: string;
  readonly category: 'linear' | 'inverse';
  readonly base: string;
  readonly quote: string;
  readonly settle: string;
  /** 0 for a perpetual, else the delivery time (ms). */
  readonly deliveryTime: number;
}

export interface SyntheticExecution {
  readonly id: string;
  readonly raw: string;
  readonly category: 'linear' | 'inverse';
  readonly side: 'Buy' | 'Sell';
  readonly qty: string;
  readonly price: string;
  /** Bybit execType: Trade, BustTrade, AdlTrade, Funding, Delivery, … */
  readonly execType: string;
  readonly fee: string;
  readonly time: number;
}

/** One wallet-ledger row; amounts signed as the venue signs them (see each fake). */
export interface SyntheticLedgerRow {
  readonly id: string;
  readonly category: string;
  readonly type: string;
  readonly raw: string;
  readonly currency: string;
  readonly cashFlow: string;
  readonly funding: string;
  readonly fee: string;
  readonly time: number;
}

export interface SyntheticDerivatives {
  readonly contracts: SyntheticContract[];
  readonly executions: SyntheticExecution[];
  readonly ledger: SyntheticLedgerRow[];
  /** Mark-price close of the hour candle opening at openTime (a decimal string). */
  readonly markClose: (raw: string, openTime: number) => string;
}

const HOUR = 3_600_000;

/**
 * A perpetuals trader over [fromMs, toMs): `executions` linear BTCUSDT fills alternating long and
 * short round trips (one in 500 a liquidation), a ledger row per execution (realized P&L and fee),
 * funding every 8 hours (paid and received in turn), and a mark price that moves with time.
 */
export function syntheticPerpetuals(options: { fromMs: number; toMs: number; executions: number }): SyntheticDerivatives {
  const { fromMs, toMs, executions: count } = options;
  const executions: SyntheticExecution[] = [];
  const ledger: SyntheticLedgerRow[] = [];
  const step = (toMs - fromMs) / count;
  for (let i = 0; i < count; i += 1) {
    const time = Math.floor(fromMs + i * step);
    const opening = i % 2 === 0;
    const long = Math.floor(i / 2) % 2 === 0;
    const side = opening === long ? 'Buy' : 'Sell';
    const price = (60_000 + 1_000 * Math.sin(time / (24 * HOUR))).toFixed(1);
    const execType = !opening && i % 1000 === 999 ? 'BustTrade' : 'Trade';
    executions.push({ id: `x${i}`, raw: 'BTCUSDT', category: 'linear', side, qty: '0.01', price, execType, fee: '0.33', time });
    ledger.push({ id: `l${i}`, category: 'linear', type: execType === 'BustTrade' ? 'LIQUIDATION' : 'TRADE', raw: 'BTCUSDT', currency: 'USDT', cashFlow: opening ? '0' : (long ? '1.5' : '-1.2'), funding: '', fee: '0.33', time });
  }
  let k = 0;
  for (let t = Math.ceil(fromMs / (8 * HOUR)) * 8 * HOUR; t < toMs; t += 8 * HOUR) {
    ledger.push({ id: `f${k}`, category: 'linear', type: 'SETTLEMENT', raw: 'BTCUSDT', currency: 'USDT', cashFlow: '0', funding: k % 2 === 0 ? '-0.6' : '0.4', fee: '0', time: t });
    k += 1;
  }
  return {
    contracts: [{ raw: 'BTCUSDT', category: 'linear', base: 'BTC', quote: 'USDT', settle: 'USDT', deliveryTime: 0 }],
    executions, ledger,
    markClose: (_raw, openTime) => (60_000 + 1_000 * Math.sin((openTime + HOUR) / (24 * HOUR))).toFixed(1),
  };
}
