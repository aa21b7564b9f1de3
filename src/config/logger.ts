// Structured JSON logs. Redaction is the safety net, not the plan: code never passes a secret,
// but if it ever does by mistake, these paths are censored before the line is written.
import { pino, type Logger, type DestinationStream } from 'pino';

export const REDACTED_PATHS = [
  'apiKey', '*.apiKey', 'secret', '*.secret', 'passphrase', '*.passphrase',
  'credential', '*.credential', 'envelope', '*.envelope', 'password', '*.password',
  'signature', '*.signature', 'headers', '*.headers', 'url', '*.url',
  'fill', '*.fill', 'fills', '*.fills', 'trade', '*.trade', 'trades', '*.trades',
  'exchangeTradeId', '*.exchangeTradeId', 'exchangeFlowId', '*.exchangeFlowId',
  'ENCRYPTION_KEY', '*.ENCRYPTION_KEY', 'ENCRYPTION_KEYS', '*.ENCRYPTION_KEYS', 'DATABASE_URL', '*.DATABASE_URL',
];

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'enclave' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
