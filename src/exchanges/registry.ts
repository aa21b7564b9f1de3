// Picks the connector for an account's venue. Wired once, in the composition root (src/app/service.ts).
import type { AccountKey } from '../domain/types.js';
import { assertNever } from '../domain/types.js';
import type { VenueConnector } from './connector.js';
import type { VenueCredential } from '../domain/types.js';
import { createCcxtConnector, type CcxtConnectorOptions } from './ccxt/ccxt-connector.js';
import { createAlpacaConnector } from './alpaca/alpaca-connector.js';
import { createIbkrFlexConnector } from './ibkr/flex-connector.js';
import { createIbkrTwsConnector } from './ibkr/tws-connector.js';
import { createSimulatedConnector } from './simulated.js';
import { VenueConfigError } from './errors.js';

/** Market seed of the demo venue: every instance shows the same prices. */
const SIMULATED_SEED = 20_260_101;

/** Options every connector understands, plus the optional logger and retry tuning. */
export type RegistryOptions = CcxtConnectorOptions;

export function createConnector(account: AccountKey, credential: VenueCredential, options: RegistryOptions): VenueConnector {
  const exchange = account.exchange;
  switch (exchange) {
    case 'binance':
    case 'bybit':
    case 'bitget':
    case 'mexc':
      return createCcxtConnector(exchange, credential, options);
    case 'alpaca':
      return createAlpacaConnector(credential, options);
    case 'ibkr':
      // A Flex credential is a token plus a query id; a TWS/IB Gateway one is just the account id.
      return credential.secret === '' ? createIbkrTwsConnector(credential, options) : createIbkrFlexConnector(credential, options);
    case 'simulated':
      if (options.enclaveMode) throw new VenueConfigError(exchange, 'the simulated venue is refused in enclave mode');
      return createSimulatedConnector(account, {
        seed: SIMULATED_SEED,
        clock: { now: options.now ?? Date.now },
        rights: credential.apiKey.startsWith('trading-') ? ['read', 'spot_trade'] : ['read'],
      });
    default:
      return assertNever(exchange);
  }
}
