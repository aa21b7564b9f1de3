// Picks a venue's derivatives reader. Bybit v5 and Binance (USDⓈ-M and COIN-M) are written; Bitget and
// MEXC are not yet (spot only, see the README venue table).
import type { Exchange as CcxtExchange, binance, bybit } from 'ccxt';
import { BinanceDerivatives } from './binance-futures-derivatives.js';
import type { CcxtVenue } from '../ccxt-client.js';
import { BybitDerivatives } from './bybit-derivatives.js';
import type { DerivativesSource, VenueCall, WalkWindows } from './derivatives-source.js';

export function createDerivativesSource(venue: CcxtVenue, client: CcxtExchange, call: VenueCall, walk: WalkWindows): DerivativesSource | undefined {
  switch (venue) {
    case 'bybit': return new BybitDerivatives(client as bybit, call, walk);
    case 'binance': return new BinanceDerivatives(client as binance, call, walk);
    case 'bitget': case 'mexc': return undefined;
  }
}
