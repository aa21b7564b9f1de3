// `enclave verify-statement FILE [--series FILE] [--public-key HEX] [--older FILE] [attestation]`:
// checks a track-record statement offline (src/crypto/statement.ts): with the attestation evidence
// (--report …, src/attestation/attested-statement.ts) the SEV-SNP report first (AMD chain, the
// release manifest's measurements and build hash, REPORT_DATA binding the signing key), then its
// signature, the signing key against the attested (or a given) one, the published series against
// the chain head, and that it extends an older statement (no fork). Exit 0 when every check given
// passes, 1 when one fails, 2 on usage errors.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyAttestedStatement, type StatementAttestation } from '../attestation/attested-statement.js';
import { certificateFingerprint } from '../attestation/binding.js';
import { chainExtends, parseSeries, parseStatement, verifyStatement, type StatementCheck } from '../crypto/statement.js';
import { StatementVerificationError } from '../crypto/track-record.js';
import { pinnedRelease } from './seal-for-enclave.js';
import { decodeBytes, readCertificates, readReport, UsageError } from './verify-attestation.js';

export const VERIFY_STATEMENT_USAGE = `usage: enclave verify-statement FILE [--series FILE] [--public-key HEX] [--older FILE]
  FILE            the statement (JSON, as GetTrackRecordStatement / enclave statement returns it)
  --series FILE   the published hourly series: JSON [{"hourStartMs","return","flags"}] (hourly_returns)
  --public-key    hex raw Ed25519 statement-signing key the statement must be signed by
  --older FILE    an earlier statement of the same account: the series must extend its chain (no fork)
Attestation (all of these together: the key is then the one the verified report binds):
  --report FILE   the SEV-SNP report (raw, hex or base64) from \`enclave attest\`
  --nonce HEX     the nonce it was requested with
  --intake-key K  the enclave's intake public key (hex or base64; enclave identity)
  --tls-cert PEM | --tls-fingerprint HEX | --no-tls
  --manifest FILE the release manifest: measurements, HOST_DATA and build hash pinned
  --vcek FILE --cert-chain FILE [--crl FILE] [--trusted-ark-sha256 HEX ...]
  (--public-key, when given with them, is the signing key the report binds: an earlier key whose
   hand-overs the statement must follow)`;

export function runVerifyStatement(argv: readonly string[], io: { out(line: string): void; err(line: string): void }): number {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, // --target is accepted (and unused) so the command sits with the others in scripts; it never calls the service.
    options: {
      series: { type: 'string' }, 'public-key': { type: 'string' }, older: { type: 'string' }, help: { type: 'boolean' }, target: { type: 'string' },
      report: { type: 'string' }, nonce: { type: 'string' }, 'intake-key': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-fingerprint': { type: 'string' },
      'no-tls': { type: 'boolean' }, manifest: { type: 'string' }, vcek: { type: 'string' }, 'cert-chain': { type: 'string' }, crl: { type: 'string' },
      'trusted-ark-sha256': { type: 'string', multiple: true },
    } });
  } catch (error) {
    io.err(`enclave verify-statement: ${(error as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) { io.out(VERIFY_STATEMENT_USAGE); return 0; }
  const file = positionals[0];
  if (file === undefined || positionals.length !== 1) { io.err(VERIFY_STATEMENT_USAGE); return 2; }
  const key = values['public-key'];
  if (key !== undefined && !/^[0-9a-fA-F]{64}$/u.test(key)) { io.err('enclave verify-statement: --public-key must be 64 hex digits'); return 2; }
  if (values.older !== undefined && values.series === undefined) { io.err('enclave verify-statement: --older needs --series'); return 2; }
  let attestation: StatementAttestation | undefined;
  try {
    attestation = values.report === undefined ? undefined : attestationOf(values, key);
  } catch (error) {
    // A missing flag or file, a manifest or certificate that does not parse: a usage error, not a verdict.
    io.err(`enclave verify-statement: ${error instanceof Error ? error.message : 'unreadable attestation input'}`);
    if (error instanceof UsageError) io.err(VERIFY_STATEMENT_USAGE);
    return 2;
  }
  try {
    const signed = parseStatement(readFileSync(file, 'utf8'));
    const series = values.series === undefined ? undefined : parseSeries(readFileSync(values.series, 'utf8'));
    let check: StatementCheck;
    if (attestation !== undefined) {
      const attested = verifyAttestedStatement(signed, attestation, series === undefined ? {} : { series });
      const measurement = attested.attestation.report?.measurement.toString('hex') ?? '?';
      io.out(`attestation  ok (AMD chain, measurement ${measurement} of the release, REPORT_DATA binds the signing key and build ${signed.statement.codeMeasurement})`);
      check = attested;
    } else {
      check = verifyStatement(signed, { ...(key === undefined ? {} : { trustedPublicKey: Buffer.from(key, 'hex') }), ...(series === undefined ? {} : { series }) });
    }
    const s = signed.statement;
    io.out(`signature    ok (key ${s.signingKey})`);
    io.out(`signing key  ${check.trustedKey === true ? (check.handovers === 0 ? 'the trusted one' : `handed over from the trusted one (${check.handovers} rotation${check.handovers === 1 ? '' : 's'})`) : 'NOT CHECKED (give --public-key from a verified attestation)'}`);
    io.out(`series       ${check.series === true ? `hashes to the chain head (${s.chain.hours} hours)` : 'NOT CHECKED (give --series)'}`);
    if (values.older !== undefined && series !== undefined) {
      const older = parseStatement(readFileSync(values.older, 'utf8'));
      if (!chainExtends(older, signed, series)) {
        io.err('enclave verify-statement: FORK: this statement\'s chain does not extend the older statement\'s head (the record was rewritten)');
        return 1;
      }
      io.out(`older        extended (its ${older.statement.chain.hours} hours are a prefix)`);
    }
    io.out(`account ${s.account} on ${s.venue}: ${s.hours} hours, TWR ${s.timeWeightedReturn}, max drawdown ${s.maxDrawdown}, flagged share ${s.flaggedHourShare}`);
    return 0;
  } catch (error) {
    if (error instanceof StatementVerificationError) { io.err(`enclave verify-statement: FAILED: ${error.message}`); return 1; }
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') { io.err(`enclave verify-statement: ${error.message}`); return 2; }
    throw error;
  }
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The attestation evidence from the flags; UsageError when one is missing. */
function attestationOf(values: Values, signingKeyHex: string | undefined): StatementAttestation {
  const text = (name: string): string => {
    const value = values[name];
    if (typeof value !== 'string') throw new UsageError(`--report needs --${name}`);
    return value;
  };
  const tlsChoices = ['tls-cert', 'tls-fingerprint', 'no-tls'].filter((name) => values[name] !== undefined).length;
  if (tlsChoices !== 1) throw new UsageError('--report needs exactly one of --tls-cert, --tls-fingerprint, --no-tls');
  const tlsCertificateFingerprint = typeof values['tls-cert'] === 'string'
    ? certificateFingerprint(readFileSync(values['tls-cert']))
    : typeof values['tls-fingerprint'] === 'string' ? decodeBytes(values['tls-fingerprint'].replaceAll(':', ''), '--tls-fingerprint') : null;
  const release = pinnedRelease(readFileSync(text('manifest'), 'utf8'));
  const [ask, ark] = readCertificates(text('cert-chain'));
  const vcek = readCertificates(text('vcek'))[0];
  if (ask === undefined || ark === undefined || vcek === undefined) throw new UsageError('--cert-chain holds the ASK then the ARK, --vcek the VCEK (PEM)');
  const pins = values['trusted-ark-sha256'];
  return {
    report: readReport(text('report')),
    nonce: decodeBytes(text('nonce'), '--nonce'),
    enclavePublicKey: decodeBytes(text('intake-key'), '--intake-key'),
    tlsCertificateFingerprint,
    ...(signingKeyHex === undefined ? {} : { statementSigningKey: Buffer.from(signingKeyHex, 'hex') }),
    policy: { measurements: release.measurements, ...(release.hostData === null ? {} : { hostData: release.hostData }) },
    endorsements: {
      ask, ark, vcek,
      ...(typeof values.crl === 'string' ? { crl: readFileSync(values.crl) } : {}),
      ...(Array.isArray(pins) ? { trustedArks: { Milan: pins, Genoa: pins, Turin: pins } } : {}),
    },
    pinnedBuildHash: release.buildHash,
  };
}
