// Configuration: read once at start-up, validated, frozen. Problems are reported one line per
// variable, naming what is expected and never echoing a value (some of them are secrets).
import { ConfigError } from './errors.js';
import { enclaveProcessProblems } from './enclave-process.js';
import { z } from 'zod';

const boolFlag = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const hexKey = z.string().regex(/^[0-9a-fA-F]{64}$/u, 'expected 64 hex characters (32 bytes)');

const schema = z.object({
  ENCLAVE_MODE: boolFlag,
  AMD_SEV_SNP: boolFlag,
  DATABASE_URL: z.string().url('expected a postgresql:// URL').optional(),
  /** Data directory of the embedded PostgreSQL (PGlite) used when DATABASE_URL is unset. */
  EMBEDDED_DB_DIR: z.string().min(1).default('.data/pglite'),
  /** Current credential key. Older keys for rotation: ENCRYPTION_KEYS="id:hex,id:hex". */
  ENCRYPTION_KEY: hexKey.optional(),
  ENCRYPTION_KEY_ID: z.coerce.number().int().min(0).max(255).default(1),
  ENCRYPTION_KEYS: z
    .string()
    .regex(/^(\d{1,3}:[0-9a-fA-F]{64})(,\d{1,3}:[0-9a-fA-F]{64})*$/u, 'expected id:hex64 pairs separated by commas')
    .optional(),
  ENCLAVE_HOST: z.string().min(1).default('127.0.0.1'),
  ENCLAVE_PORT: port(50051),
  METRICS_PORT: port(9464),
  /** Interface /metrics listens on (default: ENCLAVE_HOST); keep it on the operators' network. */
  METRICS_HOST: z.string().min(1).optional(),
  /**
   * File holding the bearer token a scrape must present (Authorization: Bearer …). Without it,
   * /metrics answers 401 to everyone in enclave mode, and serves anonymously outside it (development).
   */
  METRICS_TOKEN_FILE: z.string().min(1).optional(),
  /**
   * The ops CA (PEM file): /metrics then speaks HTTPS and also accepts a scrape presenting a client
   * certificate this CA issued (mTLS), beside the bearer token when METRICS_TOKEN_FILE is set.
   */
  METRICS_CLIENT_CA: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How often each account syncs by itself (ms); 0 disables the schedule. */
  SYNC_INTERVAL_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** Idle time after which an account actor is passivated (ms). */
  ACTOR_IDLE_MS: z.coerce.number().int().min(1_000).default(900_000),
  /** Maximum number of accounts that get labelled Prometheus series. */
  METRICS_ACCOUNT_CAP: z.coerce.number().int().min(0).default(10_000),
  /** mTLS material (required in enclave mode). */
  TLS_CA_FILE: z.string().min(1).optional(),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  /**
   * True time-weighted returns (GIPS): an external flow worth more than this share of equity at its
   * instant splits its hour (the portfolio is valued at the flow's minute and the sub-periods are
   * linked). 0 splits at every flow; 1 only at flows larger than equity.
   */
  LARGE_FLOW_SHARE: z.coerce.number().min(0, 'expected a share between 0 and 1').max(1, 'expected a share between 0 and 1').default(0.1),
  /** Worker threads for the aggregation pool; 0 = one per core. */
  POOL_THREADS: z.coerce.number().int().min(0).default(0),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Fake or local venue endpoints, `exchange=url,…` (tests and demos; refused in enclave mode). */
  VENUE_BASE_URLS: z
    .string()
    .regex(/^[a-z]+=[^,=\s]+(,[a-z]+=[^,=\s]+)*$/u, 'expected exchange=url pairs separated by commas')
    .optional(),
  /**
   * Client-side pacing of venue requests (ccxt's `rateLimit`, ms per unit of request cost) instead of
   * each venue's published limit; 0 turns it off. For tests against local fakes, where the real
   * pacing is 90 % of a sync's time; refused in enclave mode.
   */
  VENUE_RATE_LIMIT_MS: z.coerce.number().int().min(0).optional(),
  /** Add and sync the `simulated` demo account at start (default: on the embedded database outside enclave mode). */
  DEMO: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').optional(),
  /** Root of the configfs-tsm report interface (SEV-SNP attestation). */
  TSM_REPORT_ROOT: z.string().min(1).default('/sys/kernel/config/tsm/report'),
  /** The key broker (Trustee KBS protocol) that releases the root secrets; https in enclave mode. */
  KEY_BROKER_URL: z.string().url('expected an https:// URL').optional(),
  /** SHA-256 (hex) of the broker's TLS certificate (DER), pinned: no CA is trusted for the broker. */
  KEY_BROKER_CERT_SHA256: z.string().regex(/^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/u, 'expected a SHA-256 fingerprint (64 hex characters)').optional(),
  /** The resource path of the root secrets at the broker (`repository/type/tag`). */
  /**
   * Scale-out (issue 18). This instance's gRPC address as the other instances reach it (`host:port`),
   * where commands for the shards it owns are forwarded. Default: ENCLAVE_HOST:ENCLAVE_PORT.
   */
  INSTANCE_ADDR: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/u, 'expected host:port').optional(),
  /** Lifetime of a shard lease (ms), renewed every third of it; an instance stops acting a fifth of it before expiry. */
  LEASE_TTL_MS: z.coerce.number().int().min(1_000).max(600_000).default(15_000),
  /** Number of virtual shards accounts map to; the same on every instance of one database, never changed. */
  SHARD_COUNT: z.coerce.number().int().min(1).max(65_536).default(1_024),
  KEY_BROKER_RESOURCE: z.string().regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/u, 'expected repository/type/tag').default('track-record/enclave/root-secrets'),
});

export type Config = Readonly<z.infer<typeof schema>>;

/** VENUE_BASE_URLS as a map; unknown exchange names are refused by the caller. */
export function venueBaseUrls(config: Pick<Config, 'VENUE_BASE_URLS'>): ReadonlyMap<string, string> {
  const pairs = config.VENUE_BASE_URLS?.split(',') ?? [];
  return new Map(pairs.map((pair) => pair.split('=', 2) as [string, string]));
}

/** Where the other instances reach this one: INSTANCE_ADDR, else the gRPC listen address. */
export function instanceAddress(config: Pick<Config, 'INSTANCE_ADDR' | 'ENCLAVE_HOST' | 'ENCLAVE_PORT'>): string {
  return config.INSTANCE_ADDR ?? `${config.ENCLAVE_HOST}:${config.ENCLAVE_PORT}`;
}

/** The `sslmode` parameter of a PostgreSQL URL, or null. */
export function databaseSslMode(url: string): string | null {
  try {
    return new URL(url).searchParams.get('sslmode');
  } catch {
    return null;
  }
}

/** The demo runs when asked, or by default on the embedded database outside enclave mode. */
export function demoEnabled(config: Pick<Config, 'DEMO' | 'ENCLAVE_MODE' | 'DATABASE_URL'>): boolean {
  return config.DEMO ?? (!config.ENCLAVE_MODE && config.DATABASE_URL === undefined);
}

/**
 * Parses the environment; throws ConfigError listing every problem (variable names only). In
 * enclave mode the process itself is checked too (see enclave-process.ts): `execArgv` is the
 * node flags this process runs with.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): Config {
  const input = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    // zod messages never contain the input value, only what was expected.
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const config = parsed.data;
  const problems: string[] = [];
  if (config.AMD_SEV_SNP && !config.ENCLAVE_MODE) problems.push('AMD_SEV_SNP: true requires ENCLAVE_MODE=true (an attested machine runs in enclave mode)');
  if (config.ENCLAVE_MODE) {
    problems.push(...enclaveProcessProblems(env, execArgv));
    if (!config.AMD_SEV_SNP) problems.push('AMD_SEV_SNP: must be true when ENCLAVE_MODE=true (the key release needs an attestation report)');
    for (const name of ['ENCRYPTION_KEY', 'ENCRYPTION_KEYS'] as const) {
      if (config[name] !== undefined) problems.push(`${name}: not allowed when ENCLAVE_MODE=true (the key broker releases the secrets after attestation)`);
    }
    if (config.TLS_CA_FILE === undefined) problems.push('TLS_CA_FILE: required when ENCLAVE_MODE=true (the gateway CA for mTLS)');
    for (const name of ['TLS_CERT_FILE', 'TLS_KEY_FILE'] as const) {
      if (config[name] !== undefined) problems.push(`${name}: not allowed when ENCLAVE_MODE=true (the TLS key is generated in enclave memory)`);
    }
    if (config.KEY_BROKER_URL === undefined || !config.KEY_BROKER_URL.startsWith('https://')) problems.push('KEY_BROKER_URL: an https:// URL is required when ENCLAVE_MODE=true');
    if (config.KEY_BROKER_CERT_SHA256 === undefined) problems.push('KEY_BROKER_CERT_SHA256: required when ENCLAVE_MODE=true (the broker certificate is pinned)');
    if (config.DATABASE_URL === undefined || databaseSslMode(config.DATABASE_URL) !== 'verify-full') {
      problems.push('DATABASE_URL: required when ENCLAVE_MODE=true, with sslmode=verify-full');
    }
    if (config.VENUE_BASE_URLS !== undefined) problems.push('VENUE_BASE_URLS: not allowed when ENCLAVE_MODE=true (venues are reached at their own HTTPS endpoints)');
    if (config.VENUE_RATE_LIMIT_MS !== undefined) problems.push('VENUE_RATE_LIMIT_MS: not allowed when ENCLAVE_MODE=true (real venues are paced by their published limits)');
    if (config.DEMO === true) problems.push('DEMO: not allowed when ENCLAVE_MODE=true (the simulated venue is for demos only)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
