// verify-attestation: checks an SEV-SNP report offline: AMD signature and certificate chain
// (always), revocation, freshness (the nonce and the keys REPORT_DATA binds), measurement
// allow-list, HOST_DATA and guest policy. Prints one verdict line per check and a final ACCEPTED
// or REJECTED line (or one JSON object with --json).
// Exit codes: 0 accepted, 1 rejected, 2 usage or unreadable input.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AMD_PRODUCTS, type AmdProduct } from '../attestation/amd-certificates.js';
import { BUILD_HASH_LENGTH, certificateFingerprint } from '../attestation/binding.js';
import { describeSnpReport, SNP_REPORT_SIZE } from '../attestation/snp-report.js';
import { verifyAttestationReport, type ExpectedReportData, type MinimumTcb } from '../attestation/verify.js';

export const USAGE = `usage: verify-attestation --report FILE --measurement HEX [--measurement HEX ...]
       --vcek CERTFILE (--cert-chain PEMFILE | --ask CERTFILE --ark CERTFILE) [--crl FILE]
       (--nonce HEX --public-key HEX|BASE64 (--tls-cert PEMFILE | --tls-fingerprint HEX | --no-tls) [--build-hash HEX] [--statement-key HEX] | --report-data HEX)
       [--host-data HEX] [--min-tcb bl.tee.snp.ucode] [--min-launch-tcb bl.tee.snp.ucode] [--vmpl N]
       [--require-smt-disabled] [--id-key-digest HEX ...] [--min-guest-svn N] [--product Milan|Genoa|Turin]
       [--trusted-ark-sha256 HEX ...] [--allow-debug] [--allow-migration-agent] [--json]
The report file holds the raw 1184-byte report, or its hex or base64 text. --cert-chain is the
ASK+ARK PEM that AMD KDS serves at /vcek/v1/{product}/cert_chain. The ARK must be AMD's (pinned);
--trusted-ark-sha256 replaces the pins (test roots only). --build-hash is the service's build hash
(GetEnclaveIdentity, \`npm run build:hash\`); without it the report must bind no build hash, i.e. an
unbuilt service running from sources.`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export class UsageError extends Error {}

export function decodeBytes(text: string, what: string): Buffer {
  const trimmed = text.trim();
  if (/^(0x)?[0-9a-fA-F]+$/u.test(trimmed) && trimmed.replace(/^0x/u, '').length % 2 === 0) return Buffer.from(trimmed.replace(/^0x/u, ''), 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/u.test(trimmed)) return Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
  throw new UsageError(`${what} is neither hex nor base64`);
}

export function readReport(file: string): Buffer {
  const bytes = readFileSync(file);
  if (bytes.length === SNP_REPORT_SIZE) return bytes;
  return decodeBytes(bytes.toString('utf8'), '--report file');
}

/** The certificates of a PEM file (one or more) or one DER certificate. */
export function readCertificates(file: string): X509Certificate[] {
  const text = readFileSync(file);
  const pems = text.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/gu);
  return pems === null ? [new X509Certificate(text)] : pems.map((pem) => new X509Certificate(pem));
}

function parseTcb(text: string, flag: string): MinimumTcb {
  const parts = text.split('.').map((part) => Number.parseInt(part, 10));
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new UsageError(`${flag} must be four numbers 0-255: bootloader.tee.snp.microcode`);
  }
  const [bootLoader, tee, snp, microcode] = parts as [number, number, number, number];
  return { bootLoader, tee, snp, microcode };
}

function isProduct(text: string): text is AmdProduct {
  return (AMD_PRODUCTS as readonly string[]).includes(text);
}

/** Runs the command; returns the exit code. */
export function runVerifyAttestation(argv: readonly string[], io: CliIo): number {
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        report: { type: 'string' },
        measurement: { type: 'string', multiple: true },
        nonce: { type: 'string' },
        'public-key': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-fingerprint': { type: 'string' },
        'no-tls': { type: 'boolean' },
        'build-hash': { type: 'string' },
        'statement-key': { type: 'string' },
        'report-data': { type: 'string' },
        vcek: { type: 'string' },
        'cert-chain': { type: 'string' },
        ask: { type: 'string' },
        ark: { type: 'string' },
        crl: { type: 'string' },
        'host-data': { type: 'string' },
        'min-tcb': { type: 'string' },
        'min-launch-tcb': { type: 'string' },
        vmpl: { type: 'string' },
        'require-smt-disabled': { type: 'boolean' },
        'id-key-digest': { type: 'string', multiple: true },
        'min-guest-svn': { type: 'string' },
        product: { type: 'string' },
        'trusted-ark-sha256': { type: 'string', multiple: true },
        'allow-debug': { type: 'boolean' },
        'allow-migration-agent': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help === true) {
      io.out(USAGE);
      return 0;
    }
    if (values.report === undefined) throw new UsageError('--report is required');
    if (values.measurement === undefined) throw new UsageError('--measurement is required (the allowed launch measurements)');
    if (values.vcek === undefined) throw new UsageError('--vcek is required: the report signature is always checked');

    let expected: ExpectedReportData;
    if (values['report-data'] !== undefined) {
      if (values.nonce !== undefined || values['public-key'] !== undefined || values['build-hash'] !== undefined) throw new UsageError('give --report-data or --nonce/--public-key/--build-hash, not both');
      expected = { reportData: decodeBytes(values['report-data'], '--report-data') };
    } else {
      if (values.nonce === undefined || values['public-key'] === undefined) throw new UsageError('--nonce and --public-key are required (or --report-data)');
      const tlsChoices = [values['tls-cert'], values['tls-fingerprint'], values['no-tls']].filter((v) => v !== undefined).length;
      if (tlsChoices !== 1) throw new UsageError('give exactly one of --tls-cert, --tls-fingerprint, --no-tls');
      const tlsCertificateFingerprint =
        values['tls-cert'] !== undefined
          ? certificateFingerprint(readFileSync(values['tls-cert']))
          : values['tls-fingerprint'] !== undefined
            ? decodeBytes(values['tls-fingerprint'].replaceAll(':', ''), '--tls-fingerprint')
            : null;
      // No --build-hash: the empty build hash, which is what an unbuilt service (running from sources) binds.
      const buildHash = values['build-hash'] === undefined ? null : decodeBytes(values['build-hash'], '--build-hash');
      if (buildHash !== null && buildHash.byteLength !== BUILD_HASH_LENGTH) throw new UsageError('--build-hash must be 32 bytes (64 hex digits)');
      // --statement-key: the statement-signing key the service reports (enclave identity); bound when given.
      const statementSigningKey = values['statement-key'] === undefined ? null : decodeBytes(values['statement-key'], '--statement-key');
      if (statementSigningKey !== null && statementSigningKey.byteLength !== 32) throw new UsageError('--statement-key must be 32 bytes (64 hex digits)');
      expected = { binding: { nonce: decodeBytes(values.nonce, '--nonce'), enclavePublicKey: decodeBytes(values['public-key'], '--public-key'), tlsCertificateFingerprint, buildHash, statementSigningKey } };
    }

    let ask: X509Certificate | undefined;
    let ark: X509Certificate | undefined;
    if (values['cert-chain'] !== undefined) [ask, ark] = readCertificates(values['cert-chain']);
    else if (values.ask !== undefined && values.ark !== undefined) [ask, ark] = [readCertificates(values.ask)[0], readCertificates(values.ark)[0]];
    if (ask === undefined || ark === undefined) throw new UsageError('the ASK and ARK are required: --cert-chain FILE, or --ask and --ark');
    const vcek = readCertificates(values.vcek)[0];
    if (vcek === undefined) throw new UsageError('--vcek holds no certificate');
    const product = values.product;
    if (product !== undefined && !isProduct(product)) throw new UsageError(`--product must be one of ${AMD_PRODUCTS.join(', ')}`);
    const pins = values['trusted-ark-sha256'];
    const vmpl = values.vmpl === undefined ? undefined : Number.parseInt(values.vmpl, 10);
    if (vmpl !== undefined && !(vmpl >= 0 && vmpl <= 3)) throw new UsageError('--vmpl must be 0 to 3');
    const minimumGuestSvn = values['min-guest-svn'] === undefined ? undefined : Number.parseInt(values['min-guest-svn'], 10);

    const verdict = verifyAttestationReport(readReport(values.report), {
      expected,
      policy: {
        measurements: values.measurement.map((hex) => decodeBytes(hex, '--measurement')),
        allowDebug: values['allow-debug'] === true,
        allowMigrationAgent: values['allow-migration-agent'] === true,
        requireSmtDisabled: values['require-smt-disabled'] === true,
        ...(values['host-data'] === undefined ? {} : { hostData: decodeBytes(values['host-data'], '--host-data') }),
        ...(values['min-tcb'] === undefined ? {} : { minimumTcb: parseTcb(values['min-tcb'], '--min-tcb') }),
        ...(values['min-launch-tcb'] === undefined ? {} : { minimumLaunchTcb: parseTcb(values['min-launch-tcb'], '--min-launch-tcb') }),
        ...(vmpl === undefined ? {} : { vmpl }),
        ...(minimumGuestSvn === undefined ? {} : { minimumGuestSvn }),
        ...(values['id-key-digest'] === undefined ? {} : { idKeyDigests: values['id-key-digest'].map((hex) => decodeBytes(hex, '--id-key-digest')) }),
      },
      endorsements: {
        ark,
        ask,
        vcek,
        ...(values.crl === undefined ? {} : { crl: readFileSync(values.crl) }),
        ...(product === undefined ? {} : { product }),
        ...(pins === undefined ? {} : { trustedArks: { Milan: pins, Genoa: pins, Turin: pins } }),
      },
    });
    if (values.json === true) {
      io.out(JSON.stringify({ verdict: verdict.ok ? 'accepted' : 'rejected', checks: verdict.checks, report: verdict.report === null ? null : describeSnpReport(verdict.report) }));
    } else {
      for (const check of verdict.checks) io.out(`${check.status.toUpperCase().padEnd(7)} ${check.name}: ${check.detail}`);
      io.out(verdict.ok ? 'ACCEPTED' : 'REJECTED');
    }
    return verdict.ok ? 0 : 1;
  } catch (error) {
    const message = error instanceof Error ? error.message : 'unreadable input';
    io.err(`verify-attestation: ${message}`);
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) io.err(USAGE);
    return 2;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = runVerifyAttestation(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
