// Picks a venue's derivatives reader: Bybit v5, Binance (USDⓈ-M and COIN-M), Bitget v2 mix, MEXC
// futures (see docs/derivatives.md for what each reads).
import type { Exchange as CcxtExchange, binance, bitget, bybit, mexc } from 'ccxt';
import { BitgetDerivatives } from './bitget-derivatives.js';
import { MexcDerivatives } from './mexc-derivatives.js';
import { BinanceDerivatives } from './binance-futures-derivatives.js';
import type { CcxtVenue } from '../ccxt-client.js';
import { BybitDerivatives } from './bybit-derivatives.js';
import type { DerivativesSource, VenueCall, WalkWindows } from './derivatives-source.js';

export function createDerivativesSource(venue: CcxtVenue, client: CcxtExchange, call: VenueCall, walk: WalkWindows): DerivativesSource | undefined {
  switch (venue) {
    case 'bybit': return new BybitDerivatives(client as bybit, call, walk);
    case 'binance': return new BinanceDerivatives(client as binance, call, walk);
    case 'bitget': return new BitgetDerivatives(client as bitget, call, walk);
    case 'mexc': return new MexcDerivatives(client as mexc, call, walk);
  }
}
