// Picks a venue's derivatives reader. Bybit v5 is written; Binance USDⓈ-M, Bitget and MEXC are not
// yet (their connectors sync spot only, see the README venue table).
import type { Exchange as CcxtExchange, bybit } from 'ccxt';
import type { CcxtVenue } from '../ccxt-client.js';
import { BybitDerivatives } from './bybit-derivatives.js';
import type { DerivativesSource, VenueCall, WalkWindows } from './derivatives-source.js';

export function createDerivativesSource(venue: CcxtVenue, client: CcxtExchange, call: VenueCall, walk: WalkWindows): DerivativesSource | undefined {
  switch (venue) {
    case 'bybit': return new BybitDerivatives(client as bybit, call, walk);
    case 'binance': case 'bitget': case 'mexc': return undefined;
  }
}
