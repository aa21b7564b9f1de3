#!/usr/bin/env node
// `enclave`: the ops CLI. It talks to a running service over gRPC; the service owns the work.
// Credentials are read from stdin or a file (never argv), sealed here to the key the enclave
// reports (HPKE) and sent as ciphertext. Errors are one line on stderr and a non-zero exit;
// nothing this prints carries a credential.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { credentials, Metadata, status, type CallOptions, type ChannelCredentials, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { SingleBar } from 'cli-progress';
import { EXCHANGES, isExchange, type AccountKey, type SyncProgress } from '../domain/types.js';
import type { VenueCredential } from '../domain/types.js';
import { DISCLOSURE_LEVELS, isDisclosureLevel, type DisclosureLevel } from '../domain/disclosure.js';
import { DisclosureLevel as DisclosureLevelMessage, EnclaveServiceClient, ReportPeriod, type SyncJobProgress, type TcbVersion } from '../grpc/generated/enclave.js';
import type { SyncReport } from '../grpc/enclave-api.js';
import { WireFormatError } from '../grpc/errors.js';
import {
  accountToWire,
  connectionInfoFromWire,
  connectionStatusFromWire,
  hourlyReturnFromWire,
  performanceStatsFromWire,
  syncModeToWire,
  disclosureLevelFromWire,
  disclosureLevelToWire,
  watchedSyncFromWire,
  performanceReportFromWire,
} from '../grpc/wire.js';
import { reportText } from './report-render.js';
import { connectionsTable, equityChart, equitySvg, performanceTable, returnsTable, syncProgressText } from './render.js';
import { readCertificates, runVerifyAttestation } from './verify-attestation.js';
import { runVerifyStatement } from './verify-statement.js';
import { EnclaveNotTrustedError, pinnedRelease, ReleaseManifestError, sealCredentialForEnclave, type EnclaveTrust } from './seal-for-enclave.js';

export const USAGE = `usage: enclave <command> [options]
  add <user> <exchange> [--key-file FILE] --manifest FILE --vcek FILE --cert-chain FILE [--crl FILE]
      [--accept-trading-key-risk] [--disclosure returns|equity|full] [--insecure-dev]
                                            register an API key (read from stdin or FILE, never argv):
                                            JSON {"apiKey","secret","passphrase"?} or lines: key, secret[, passphrase].
                                            Seals only after verifying the enclave's SEV-SNP report against the
                                            release manifest's measurements (AMD VCEK + ASK/ARK chain given);
                                            --insecure-dev skips that proof (simulated/dev service only);
                                            --accept-trading-key-risk: a venue with no read-only keys (Alpaca)
                                            --disclosure: what the account publishes (default: returns)
  list                                      connected accounts, their status, disclosure level and why a parked one is parked
  disclosure <user> <exchange> <returns|equity|full>
                                            set what the account publishes (its published rows are rewritten)
  revive <user> <exchange>                  let a parked (failed) account sync again
  remove <user> <exchange> [--keep-aggregates]
                                            delete the account's key, fills, cash flows, cursors (and aggregates)
  sync <user> <exchange> [--full]           sync now, with a progress bar
  returns <user> <exchange> [--from ISO] [--to ISO] [--last N] [--svg FILE]
                                            hourly returns table and equity chart (default: the last 365 days)
  metrics <user> <exchange>                 performance metrics
  report <user> [exchange] [--period 1D|7D|30D|90D|YTD|1Y|3Y|SI] [--from ISO --to ISO]
         [--currency USD|BTC] [--benchmark BTC|ETH|CRYPTO_EQUAL_WEIGHT|SPY] [--risk-free RATE] [--sortino-target RATE]
                                            performance report (no exchange: all the user's accounts combined)
  identity                                  the enclave's public key, version and build hash
  attest [--nonce HEX] [--out FILE]         an SEV-SNP report bound to the nonce (random when omitted)
  verify-attestation ...                    check a report offline (see: enclave verify-attestation --help)
  whois <label>                             the account behind a metrics label (acct_…)
  statement <user> <exchange> [--from ISO --to ISO] [--out FILE]
                                            a signed track-record statement (default: the whole record)
  verify-statement FILE [--series FILE] [--public-key HEX] [--older FILE] [--report FILE --nonce HEX --intake-key K --manifest FILE --vcek FILE --cert-chain FILE …]
                                            check a statement offline (see: enclave verify-statement --help)
options: --target HOST:PORT (or ENCLAVE_TARGET; default 127.0.0.1:50051)
         --ca FILE --cert FILE --key FILE   mTLS client credentials (enclave mode)`;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** All of standard input (only `add` reads it). */
  readonly readStdin: () => Promise<Buffer>;
  /** The stream the progress bar draws on (default: none). */
  readonly progressStream?: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

class UsageError extends Error {}

function disclosureArg(value: string): DisclosureLevel {
  if (!isDisclosureLevel(value)) throw new UsageError(`the disclosure level must be one of ${DISCLOSURE_LEVELS.join(', ')}`);
  return value;
}
class CliError extends Error {}

const DAY_MS = 24 * 3_600_000;

const CLI_PERIODS: Readonly<Record<string, ReportPeriod>> = {
  '1D': ReportPeriod.REPORT_PERIOD_1D, '7D': ReportPeriod.REPORT_PERIOD_7D, '30D': ReportPeriod.REPORT_PERIOD_30D,
  '90D': ReportPeriod.REPORT_PERIOD_90D, YTD: ReportPeriod.REPORT_PERIOD_YTD, '1Y': ReportPeriod.REPORT_PERIOD_1Y,
  '3Y': ReportPeriod.REPORT_PERIOD_3Y, SI: ReportPeriod.REPORT_PERIOD_SINCE_INCEPTION, CUSTOM: ReportPeriod.REPORT_PERIOD_CUSTOM,
};
const QUERY_DEADLINE_MS = 30_000;
const SYNC_DEADLINE_MS = 15 * 60_000;

type Unary<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => ClientUnaryCall;

function call<Req, Res>(method: Unary<Req, Res>, request: Req, deadlineMs = QUERY_DEADLINE_MS): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => (error === null ? resolve(response) : reject(error)));
  });
}

function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && 'code' in value && typeof value.code === 'number' && 'details' in value;
}

/** The SHA-256 of the TLS leaf certificate the server presented, once the channel has shaken hands. */
interface ServedCertificate {
  fingerprint: Buffer | null;
}

function channelCredentials(values: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined }, served?: ServedCertificate): ChannelCredentials {
  const given = [values.ca, values.cert, values.key].filter((v) => v !== undefined).length;
  if (given === 0) return credentials.createInsecure();
  if (given !== 3 || values.ca === undefined || values.cert === undefined || values.key === undefined) {
    throw new UsageError('--ca, --cert and --key go together (mTLS)');
  }
  return credentials.createSsl(readFileSync(values.ca), readFileSync(values.key), readFileSync(values.cert), {
    // grpc-js replaces Node's check with this one: run it, then remember which certificate this
    // channel was served (REPORT_DATA must bind it).
    checkServerIdentity: (host: string, certificate: PeerCertificate) => {
      const failed = checkServerIdentity(host, certificate);
      if (failed === undefined && served !== undefined) served.fingerprint = createHash('sha256').update(certificate.raw).digest();
      return failed;
    },
  });
}

/** The pins `enclave add` verifies against: the manifest's measurements (and build hash, when pinned) and AMD's certificates for the report. */
function enclaveTrust(values: { manifest?: string | undefined; vcek?: string | undefined; 'cert-chain'?: string | undefined; crl?: string | undefined; 'trusted-ark-sha256'?: string[] | undefined }): EnclaveTrust {
  if (values.manifest === undefined) throw new UsageError('add needs --manifest FILE (the release manifest whose measurements are allowed), or --insecure-dev for a development service');
  if (values.vcek === undefined || values['cert-chain'] === undefined) throw new UsageError('add needs --vcek FILE and --cert-chain FILE (AMD KDS) to check the report signature');
  const release = pinnedRelease(readFileSync(values.manifest, 'utf8'));
  const [ask, ark] = readCertificates(values['cert-chain']);
  const vcek = readCertificates(values.vcek)[0];
  if (ask === undefined || ark === undefined || vcek === undefined) throw new UsageError('--cert-chain must hold the ASK and the ARK, --vcek one certificate');
  const pins = values['trusted-ark-sha256'];
  return {
    policy: { measurements: release.measurements, ...(release.hostData === null ? {} : { hostData: release.hostData }) },
    buildHash: release.buildHash,
    endorsements: {
      ark,
      ask,
      vcek,
      ...(values.crl === undefined ? {} : { crl: readFileSync(values.crl) }),
      ...(pins === undefined ? {} : { trustedArks: { Milan: pins, Genoa: pins, Turin: pins } }),
    },
  };
}

function accountArgs(positionals: readonly string[]): AccountKey {
  const [userUid, exchange] = positionals;
  if (userUid === undefined || exchange === undefined || positionals.length !== 2) throw new UsageError('expected <user> <exchange>');
  if (!isExchange(exchange)) throw new UsageError(`exchange must be one of ${EXCHANGES.join(', ')}`);
  return { userUid, exchange };
}

/** Parses credential text: JSON {apiKey, secret, passphrase?} or lines (key, secret[, passphrase]). */
export function parseCredentialText(text: string): VenueCredential {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new CliError('the credential input is not valid JSON');
    }
    const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    const { apiKey, secret, passphrase } = record;
    if (typeof apiKey !== 'string' || apiKey === '' || typeof secret !== 'string' || (passphrase !== undefined && typeof passphrase !== 'string')) {
      throw new CliError('the credential JSON needs string fields apiKey and secret (and optionally passphrase)');
    }
    return passphrase === undefined ? { apiKey, secret } : { apiKey, secret, passphrase };
  }
  const lines = trimmed.split(/\r?\n/u).map((line) => line.trim());
  const [apiKey, secret, passphrase, ...rest] = lines;
  if (apiKey === undefined || apiKey === '' || rest.length > 0) {
    throw new CliError('the credential input must be the API key, the secret and optionally a passphrase, one per line');
  }
  const base = { apiKey, secret: secret ?? '' };
  return passphrase === undefined || passphrase === '' ? base : { ...base, passphrase };
}

function parseTime(text: string, flag: string): number {
  const ms = /^\d+$/u.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} must be an ISO time or epoch milliseconds`);
  return ms;
}

function syncSummary(report: SyncReport | undefined): string {
  if (report === undefined) return 'sync finished without a result';
  const state = report.gapKinds.length > 0 ? `completed with gaps (${report.gapKinds.join(', ')})` : 'completed';
  const snapshot = report.latestSnapshot === null ? '' : `; equity ${report.latestSnapshot.equity.toFixed(2)} at ${new Date(report.latestSnapshot.at).toISOString()}`;
  // Below the `full` disclosure level the service says only whether anything arrived.
  const counts = report.disclosureLevel === undefined || report.disclosureLevel === 'full'
    ? `${report.fillsSynced} new fills, ${report.cashFlowsSynced} new cash flows`
    : `${report.fillsSynced > 0 ? 'new fills' : 'no new fills'}, ${report.cashFlowsSynced > 0 ? 'new cash flows' : 'no new cash flows'} (counts withheld at disclosure level ${report.disclosureLevel})`;
  return `sync ${state}: ${counts}, ${report.hourlyReturnsGenerated} hours computed${snapshot}`;
}

const tcb = (t: TcbVersion | undefined): string => (t === undefined ? '—' : `${t.bootLoader}.${t.tee}.${t.snp}.${t.microcode}${t.fmc === undefined ? '' : ` fmc ${t.fmc}`}`);

/** Streams the sync's progress into a bar: pages and fills while fetching, then hours of hours total. */
async function watchSync(client: EnclaveServiceClient, account: AccountKey, full: boolean, io: CliIo): Promise<SyncReport | undefined> {
  const stream = client.watchSyncJob({ ...accountToWire(account), type: syncModeToWire(full ? 'full' : 'incremental') }, { deadline: Date.now() + SYNC_DEADLINE_MS });
  const bar = new SingleBar({
    format: '{phase} |{bar}| {detail}',
    stream: io.progressStream ?? process.stderr,
    noTTYOutput: false,
    hideCursor: true,
    clearOnComplete: false,
  });
  let started = false;
  let report: SyncReport | undefined;
  const draw = (progress: SyncProgress, done: boolean): void => {
    const payload = { phase: (done ? 'done' : progress.phase).padEnd(11), detail: syncProgressText(progress) };
    const total = Math.max(1, progress.hoursTotal);
    if (!started) {
      bar.start(total, progress.hoursDone, payload);
      started = true;
    } else {
      bar.setTotal(total);
      bar.update(progress.hoursDone, payload);
    }
  };
  try {
    for await (const message of stream as AsyncIterable<SyncJobProgress>) {
      const watched = watchedSyncFromWire(message);
      draw(watched.progress, watched.done);
      if (watched.done) report = watched.report;
    }
  } finally {
    if (started) bar.stop();
    stream.cancel();
  }
  return report;
}

/** Runs one command; resolves to the exit code (0 ok, 1 failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'verify-statement') {
    return runVerifyStatement(rest, { out: (line) => io.out(`${line}\n`), err: (line) => io.err(`${line}\n`) });
  }
  if (command === 'verify-attestation') {
    return runVerifyAttestation(rest, { out: (line) => io.out(`${line}\n`), err: (line) => io.err(`${line}\n`) });
  }
  let client: EnclaveServiceClient | undefined;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        target: { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'key-file': { type: 'string' },
        'keep-aggregates': { type: 'boolean' },
        full: { type: 'boolean' },
        from: { type: 'string' },
        to: { type: 'string' },
        last: { type: 'string' },
        svg: { type: 'string' },
        nonce: { type: 'string' },
        out: { type: 'string' },
        period: { type: 'string' },
        currency: { type: 'string' },
        benchmark: { type: 'string' },
        'risk-free': { type: 'string' },
        'sortino-target': { type: 'string' },
        manifest: { type: 'string' },
        vcek: { type: 'string' },
        'cert-chain': { type: 'string' },
        crl: { type: 'string' },
        'trusted-ark-sha256': { type: 'string', multiple: true },
        'insecure-dev': { type: 'boolean' },
        'accept-trading-key-risk': { type: 'boolean' },
        disclosure: { type: 'string' },
      },
    });
    const target = values.target ?? io.env['ENCLAVE_TARGET'] ?? '127.0.0.1:50051';
    const served: ServedCertificate = { fingerprint: null };
    const open = (): EnclaveServiceClient => {
      client = new EnclaveServiceClient(target, channelCredentials(values, served));
      return client;
    };

    switch (command) {
      case 'add': {
        const account = accountArgs(positionals);
        const insecureDev = values['insecure-dev'] === true;
        // Pins are read before the key, and before anything is asked of the service.
        const trust = insecureDev ? 'insecure-dev' : enclaveTrust(values);
        const acceptTradingKeyRisk = values['accept-trading-key-risk'] === true;
        const level = values.disclosure === undefined ? null : disclosureArg(values.disclosure);
        if (insecureDev) {
          io.err('enclave: WARNING --insecure-dev: the service is NOT verified; the key is sealed to whatever key it reports. Use only with a simulated/dev service.\n');
        }
        if (acceptTradingKeyRisk) {
          io.err('enclave: WARNING --accept-trading-key-risk: this key can place orders. The enclave never trades, but whoever obtains the key can. Accepted only where the venue issues no read-only keys (Alpaca); withdrawal and transfer rights are still refused.\n');
        }
        const input = values['key-file'] === undefined ? await io.readStdin() : readFileSync(values['key-file']);
        let credential: VenueCredential;
        try {
          credential = parseCredentialText(input.toString('utf8'));
        } finally {
          input.fill(0);
        }
        const c = open();
        const { sealed, verified, measurement } = await sealCredentialForEnclave({
          client: c, account, credential, trust, servedCertificateFingerprint: () => served.fingerprint,
        });
        const reply = await call(c.registerConnection.bind(c), { ...accountToWire(account), sealedCredential: sealed, acceptTradingKeyRisk,
          disclosureLevel: level === null ? DisclosureLevelMessage.DISCLOSURE_LEVEL_UNSPECIFIED : disclosureLevelToWire(level) });
        // What the service says about the key is only worth something when the service was verified.
        const permissions = !verified
          ? ' (unverified service: its permission check is not evidence)'
          : reply.permissionsChecked
            ? ' (key checked read-only by the verified enclave)'
            : ' (the venue does not report key permissions: not checked)';
        io.out(
          `added ${account.userUid} on ${account.exchange}: ${connectionStatusFromWire(reply.status)}${permissions}` +
            `${measurement === null ? '' : `\nenclave measurement ${measurement} (on the release manifest)`}\n`,
        );
        return 0;
      }
      case 'list': {
        if (positionals.length > 0) throw new UsageError('list takes no arguments');
        const c = open();
        const connections = (await call(c.listConnections.bind(c), {})).connections.map(connectionInfoFromWire);
        io.out(connections.length === 0 ? 'no accounts connected\n' : `${connectionsTable(connections)}\n`);
        return 0;
      }
      case 'disclosure': {
        const [userUid, exchange, wanted] = positionals;
        if (wanted === undefined || positionals.length !== 3) throw new UsageError('expected <user> <exchange> <returns|equity|full>');
        const account = accountArgs([userUid ?? '', exchange ?? '']);
        const c = open();
        const reply = await call(c.setDisclosureLevel.bind(c), { ...accountToWire(account), level: disclosureLevelToWire(disclosureArg(wanted)) });
        io.out(`${account.userUid} on ${account.exchange} now publishes at level ${disclosureLevelFromWire(reply.level) ?? 'unknown'}\n`);
        return 0;
      }
      case 'revive': {
        const account = accountArgs(positionals);
        const c = open();
        const { revived } = await call(c.reviveConnection.bind(c), accountToWire(account));
        io.out(
          revived
            ? `revived ${account.userUid} on ${account.exchange}: it syncs again\n`
            : `${account.userUid} on ${account.exchange} is not parked: nothing to revive\n`,
        );
        return 0;
      }
      case 'remove': {
        const account = accountArgs(positionals);
        const keep = values['keep-aggregates'] === true;
        const c = open();
        const { removed } = await call(c.removeConnection.bind(c), { ...accountToWire(account), keepAggregates: keep });
        io.out(
          removed
            ? `removed ${account.userUid} on ${account.exchange}: key, fills, cash flows and cursors deleted${keep ? '; aggregates kept' : ', aggregates too'}\n`
            : `no connection stored for ${account.userUid} on ${account.exchange}\n`,
        );
        return 0;
      }
      case 'sync': {
        const account = accountArgs(positionals);
        const result = await watchSync(open(), account, values.full === true, io);
        io.out(`${syncSummary(result)}\n`);
        return 0;
      }
      case 'returns': {
        const account = accountArgs(positionals);
        const to = values.to === undefined ? Date.now() + 3_600_000 : parseTime(values.to, '--to');
        const from = values.from === undefined ? to - 365 * DAY_MS : parseTime(values.from, '--from');
        const last = values.last === undefined ? 24 : Number(values.last);
        if (!Number.isInteger(last) || last < 1) throw new UsageError('--last must be a positive integer');
        const c = open();
        const reply = await call(c.calculateHistoricalReturns.bind(c), { ...accountToWire(account), fromMs: from, toMs: to });
        const returns = reply.returns.map(hourlyReturnFromWire);
        if (returns.length === 0) {
          io.out('no published hourly returns in this range\n');
        } else {
          io.out(`${returns.length} hourly returns; the last ${Math.min(last, returns.length)}:\n${returnsTable(returns, last)}\n\nGrowth of 1 unit:\n${equityChart(returns)}\n`);
        }
        if (values.svg !== undefined) {
          writeFileSync(values.svg, equitySvg(returns));
          io.out(`equity curve written to ${values.svg}\n`);
        }
        return 0;
      }
      case 'metrics': {
        const account = accountArgs(positionals);
        const c = open();
        const { metrics: stats } = await call(c.getAggregatedMetrics.bind(c), accountToWire(account));
        if (stats === undefined) throw new CliError('the service answered without performance figures');
        io.out(`${performanceTable(performanceStatsFromWire(stats))}\n`);
        return 0;
      }
      case 'report': {
        const [userUid, exchange, ...extra] = positionals;
        if (userUid === undefined || extra.length > 0) throw new UsageError('expected <user> [exchange]');
        if (exchange !== undefined && !isExchange(exchange)) throw new UsageError(`exchange must be one of ${EXCHANGES.join(', ')}`);
        const custom = values.from !== undefined || values.to !== undefined;
        const periodText = values.period ?? (custom ? 'CUSTOM' : 'SI');
        const period = CLI_PERIODS[periodText];
        if (period === undefined) throw new UsageError('--period must be 1D, 7D, 30D, 90D, YTD, 1Y, 3Y or SI (or give --from/--to)');
        const rate = (text: string | undefined, flag: string): number | undefined => {
          if (text === undefined) return undefined;
          const value = Number(text);
          if (!Number.isFinite(value)) throw new UsageError(`${flag} must be an annual rate as a fraction (0.04 = 4 %)`);
          return value;
        };
        const c = open();
        const reply = await call(c.getPerformanceReport.bind(c), {
          userUid, exchange: exchange ?? '', period,
          fromMs: values.from === undefined ? 0 : parseTime(values.from, '--from'),
          toMs: values.to === undefined ? Date.now() + 3_600_000 : parseTime(values.to, '--to'),
          currency: values.currency ?? '', benchmark: values.benchmark ?? '',
          riskFreeRate: rate(values['risk-free'], '--risk-free'), sortinoTarget: rate(values['sortino-target'], '--sortino-target'),
        });
        io.out(reportText(performanceReportFromWire(reply)));
        return 0;
      }
      case 'statement': {
        const account = accountArgs(positionals);
        const c = open();
        const range = values.from === undefined && values.to === undefined ? { fromMs: 0, toMs: 0 }
          : { fromMs: values.from === undefined ? 0 : parseTime(values.from, '--from'), toMs: values.to === undefined ? Date.now() + 3_600_000 : parseTime(values.to, '--to') };
        const { statementJson } = await call(c.getTrackRecordStatement.bind(c), { ...accountToWire(account), ...range });
        if (values.out !== undefined) writeFileSync(values.out, `${statementJson}\n`);
        io.out(values.out === undefined ? `${statementJson}\n` : `statement written to ${values.out}\n`);
        return 0;
      }
      case 'whois': {
        const [label] = positionals;
        if (label === undefined || positionals.length !== 1) throw new UsageError('expected <label> (acct_…, the account label of a metric)');
        const c = open();
        const found = await call(c.whois.bind(c), { label });
        io.out(found.found ? `${label} is ${found.userUid} on ${found.exchange}\n` : `${label}: no connected account has this label\n`);
        return found.found ? 0 : 1;
      }
      case 'identity': {
        const c = open();
        const identity = await call(c.getEnclaveIdentity.bind(c), {});
        const signing = Buffer.from(identity.statementSigningKey ?? new Uint8Array(0)).toString('hex');
        io.out(`public key ${Buffer.from(identity.hpkePublicKey).toString('hex')}\nversion    ${identity.serviceVersion}\nbuild hash ${identity.buildHash}\nstatement signing key ${signing === '' ? '—' : signing}\n`);
        return 0;
      }
      case 'attest': {
        const nonceText = values.nonce?.replace(/^0x/u, '');
        if (nonceText !== undefined && !/^([0-9a-fA-F]{2})+$/u.test(nonceText)) throw new UsageError('--nonce must be hex');
        const nonce = nonceText === undefined ? randomBytes(32) : Buffer.from(nonceText, 'hex');
        const c = open();
        const identity = await call(c.getEnclaveIdentity.bind(c), {});
        const report = await call(c.getAttestation.bind(c), { nonce });
        if (values.out !== undefined) writeFileSync(values.out, report.report);
        const policy = report.policy;
        io.out(
          [
            `nonce        ${nonce.toString('hex')}`,
            `public key   ${Buffer.from(identity.hpkePublicKey).toString('hex')}`,
            `build hash   ${identity.buildHash} (bound in the report data${identity.buildHash === 'unbuilt' ? ' as empty' : ''})`,
            `measurement  ${Buffer.from(report.measurement).toString('hex')}`,
            `report data  ${Buffer.from(report.reportData).toString('hex')}`,
            `policy       abi ${policy?.abiMajor ?? '?'}.${policy?.abiMinor ?? '?'}, debug ${policy?.debugAllowed === true ? 'ALLOWED' : 'off'}, smt ${policy?.smtAllowed === true ? 'on' : 'off'}`,
            `vmpl         ${report.vmpl}`,
            `tcb          current ${tcb(report.currentTcb)}, reported ${tcb(report.reportedTcb)}, committed ${tcb(report.committedTcb)}, launch ${tcb(report.launchTcb)}`,
            values.out === undefined ? 'report not saved (use --out FILE, then enclave verify-attestation --report FILE ...)' : `report       ${values.out} (${report.report.length} bytes)`,
            '',
          ].join('\n'),
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      io.err(`enclave: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    if (isServiceError(error)) {
      // Details are the service's fixed sentences (src/grpc/errors.ts), never a secret.
      io.err(`enclave: ${status[error.code] ?? error.code}: ${error.details}\n`);
      return 1;
    }
    if (error instanceof CliError || error instanceof WireFormatError || error instanceof EnclaveNotTrustedError || error instanceof ReleaseManifestError || (error instanceof TypeError && 'code' in error)) {
      io.err(`enclave: ${error.message}\n`);
      return 1;
    }
    // Our own errors say what failed; a file error names the path only.
    const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    io.err(`enclave: ${code !== undefined && 'path' in (error as object) ? `${code}: ${String((error as { path: unknown }).path)}` : error instanceof Error ? error.name : 'failed'}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const all = Buffer.concat(chunks);
  for (const chunk of chunks) chunk.fill(0);
  return all;
}

// Run as a program (also through the npm bin symlink), not when imported by tests.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await runCli(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    readStdin: async () => {
      if (process.stdin.isTTY) process.stderr.write('API key, secret and optional passphrase, one per line; end with Ctrl-D:\n');
      return readAll(process.stdin);
    },
    progressStream: process.stderr,
    env: process.env,
  });
}
