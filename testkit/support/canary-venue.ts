// A fake Binance seeded with canary values: an API key, a secret and trade ids that must never
// leave the enclave. Shared by the leak test and the soak.
import { createBinanceLikeFake } from '../fakes/binance-like-fake.js';
import type { FakeVenueServer } from '../fakes/fake-server.js';
import { DAY_MS, addFills, syntheticAccount, type SyntheticAccount } from '../fakes/history.js';

export const CANARY_API_KEY = 'CANARYKEYq8Zt4Lm2Xv9Rw';
export const CANARY_API_SECRET = 'CANARYSECRETn3Jp7Yc5Hk1Ds';
/**
 * Every fill id is 7193058264xxxxxx. The digits do not repeat: the earlier mark 4242424242 is also
 * the expansion of repeating decimals (14/33 = 0.424242…), so an exact return published at the
 * `full` level could contain it, which made the leak test fail about once in a few runs.
 */
export const CANARY_TRADE_ID_BASE = 7_193_058_264_000_001;
export const CANARY_TRADE_ID_MARK = '7193058264';

export interface CanaryVenue {
  readonly fake: FakeVenueServer;
  readonly account: SyntheticAccount;
  readonly baseUrl: string;
  readonly canaries: readonly string[];
}

export async function startCanaryVenue(options: { readonly fills: number; readonly days?: number; readonly firstId?: number }): Promise<CanaryVenue> {
  const now = Date.now();
  const days = options.days ?? 10;
  const account = syntheticAccount({ fills: 0, fromMs: now - days * DAY_MS, toMs: now - DAY_MS });
  account.nextId = options.firstId ?? CANARY_TRADE_ID_BASE;
  addFills(account, options.fills, now - days * DAY_MS, now - DAY_MS);
  const fake = createBinanceLikeFake('binance', { account, apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET });
  const baseUrl = await fake.start();
  return { fake, account, baseUrl, canaries: [CANARY_API_KEY, CANARY_API_SECRET, CANARY_TRADE_ID_MARK] };
}

/** Each canary with how many times it occurs in the text. */
export function canaryHits(text: string, canaries: readonly string[]): Record<string, number> {
  const hits: Record<string, number> = {};
  for (const canary of canaries) hits[canary] = text.split(canary).length - 1;
  return hits;
}
