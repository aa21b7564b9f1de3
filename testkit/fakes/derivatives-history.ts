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
