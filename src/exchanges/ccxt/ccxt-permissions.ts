// Maps each ccxt venue's API-key permission answer onto VENUE_RIGHTS. Pure functions over the
// parsed body, so the mapping is tested without a server. Anything a mapping does not know that
// could grant a right becomes `unrecognized` (the policy refuses it): a new venue flag fails closed.
import type { VenuePermissions, VenueRight } from '../../domain/types.js';
import { isRecord } from '../broker-common.js';
import { MalformedVenueResponse } from '../errors.js';

/**
 * Binance `GET /sapi/v1/account/apiRestrictions` (developers.binance.com/docs/wallet/account/
 * api-key-permission): one boolean per right. Flags that grant nothing are listed as `[]`.
 */
const BINANCE_FLAGS: Readonly<Record<string, readonly VenueRight[]>> = {
  enableReading: ['read'],
  enableFixReadOnly: [],
  enableSpotAndMarginTrading: ['spot_trade', 'margin_trade'],
  enableFixApiTrade: ['spot_trade'],
  enableMargin: ['margin_trade'],
  enableFutures: ['futures_trade'],
  enablePortfolioMarginTrading: ['margin_trade', 'futures_trade'],
  enableVanillaOptions: ['options_trade'],
  enableWithdrawals: ['withdraw'],
  enableInternalTransfer: ['internal_transfer'],
  permitsUniversalTransfer: ['sub_account_transfer'],
  // Not rights: whether the key is bound to IPs; when trading rights lapse.
  ipRestrict: [],
};

export function binanceKeyRights(body: unknown): VenuePermissions {
  if (!isRecord(body) || typeof body.enableReading !== 'boolean') throw new MalformedVenueResponse('apiRestrictions');
  const rights = new Set<VenueRight>();
  for (const [flag, value] of Object.entries(body)) {
    if (value !== true) continue;
    const granted = BINANCE_FLAGS[flag];
    if (granted === undefined) rights.add('unrecognized');
    else for (const right of granted) rights.add(right);
  }
  return { reported: true, rights: [...rights] };
}

/**
 * Bybit `GET /v5/user/query-api` (bybit-exchange.github.io/docs/v5/user/apikey-info): `readOnly`
 * 1 is a read-only key whatever sections it lists (a read-only key names the sections it may
 * read); 0 is read and write, and each listed section grants what it names.
 */
const BYBIT_SECTIONS: Readonly<Record<string, readonly VenueRight[]>> = {
  ContractTrade: ['futures_trade'],
  Spot: ['spot_trade'],
  Options: ['options_trade'],
  Derivatives: ['futures_trade'],
  CopyTrading: ['futures_trade'],
  BlockTrade: ['futures_trade', 'options_trade'],
  Exchange: ['spot_trade'], // convert
  NFT: ['spot_trade'],
  Earn: ['internal_transfer'], // moves funds into earn products
  FiatP2P: ['withdraw'],
  FiatBybitPay: ['withdraw'],
  FiatConvertBroker: ['spot_trade'],
  Affiliate: [],
};
const BYBIT_WALLET: Readonly<Record<string, readonly VenueRight[]>> = {
  AccountTransfer: ['internal_transfer'],
  SubMemberTransfer: ['sub_account_transfer'],
  SubMemberTransferList: ['sub_account_transfer'],
  Withdraw: ['withdraw'],
};

export function bybitKeyRights(result: unknown): VenuePermissions {
  if (!isRecord(result) || typeof result.readOnly !== 'number' || !isRecord(result.permissions)) throw new MalformedVenueResponse('query-api');
  if (result.readOnly === 1) return { reported: true, rights: ['read'] };
  const rights = new Set<VenueRight>(['read']);
  for (const [section, granted] of Object.entries(result.permissions)) {
    if (!Array.isArray(granted)) throw new MalformedVenueResponse('query-api permissions');
    for (const item of granted) {
      const mapped = section === 'Wallet' ? BYBIT_WALLET[String(item)] : BYBIT_SECTIONS[section];
      if (mapped === undefined) rights.add('unrecognized');
      else for (const right of mapped) rights.add(right);
    }
  }
  return { reported: true, rights: [...rights] };
}

/**
 * Bitget `GET /api/v2/spot/account/info` (bitget.com/api-doc/spot/account/Get-Account-Info):
 * `authorities` lists codes; `…r` codes read, `…w` codes write. The page's example shows the
 * older words `readonly` and `trade`, so both spellings are mapped.
 */
const BITGET_AUTHORITIES: Readonly<Record<string, readonly VenueRight[]>> = {
  readonly: ['read'],
  coor: ['read'], cpor: ['read'], stor: ['read'], smor: ['read'], ttor: ['read'], wtor: ['read'],
  taxr: ['read'], chor: ['read'], p2pr: ['read'], pllr: ['read'],
  trade: ['spot_trade'],
  coow: ['futures_trade'], cpow: ['futures_trade'], ttow: ['futures_trade'],
  stow: ['spot_trade'],
  smow: ['margin_trade'],
  wtow: ['internal_transfer'],
  wwow: ['withdraw'],
  chow: ['sub_account_transfer'],
  p2p: ['withdraw'], p2pw: ['withdraw'],
  pllw: ['margin_trade'], // pledge loans borrow against holdings
  taxw: [],
};

export function bitgetKeyRights(data: unknown): VenuePermissions {
  if (!isRecord(data) || !Array.isArray(data.authorities)) throw new MalformedVenueResponse('account info');
  const rights = new Set<VenueRight>();
  for (const code of data.authorities) {
    const mapped = typeof code === 'string' ? BITGET_AUTHORITIES[code.toLowerCase()] : undefined;
    if (mapped === undefined) rights.add('unrecognized');
    else for (const right of mapped) rights.add(right);
  }
  return { reported: true, rights: [...rights] };
}
