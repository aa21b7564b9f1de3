// verify-attestation: checks an SEV-SNP report against an expected measurement and the
// nonce / enclave key / TLS certificate binding. Prints one verdict line per check and a final
// ACCEPTED or REJECTED line (or one JSON object with --json).
// Exit codes: 0 accepted, 1 rejected, 2 usage or unreadable input.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { certificateFingerprint } from '../attestation/binding.js';
import { describeSnpReport, SNP_REPORT_SIZE } from '../attestation/snp-report.js';
import { verifyAttestationReport, verifyVcekChain, type MinimumTcb } from '../attestation/verify.js';

export const USAGE = `usage: verify-attestation --report FILE --measurement HEX --nonce HEX --public-key HEX|BASE64
       (--tls-cert PEMFILE | --tls-fingerprint HEX | --no-tls)
       [--vcek CERTFILE [--ask CERTFILE --ark CERTFILE --ark-sha256 HEX]] [--min-tcb bl.tee.snp.ucode]
       [--allow-debug] [--json]
The report file holds the raw 1184-byte report, or its hex or base64 text.`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

class UsageError extends Error {}

function decodeBytes(text: string, what: string): Buffer {
  const trimmed = text.trim();
  if (/^(0x)?[0-9a-fA-F]+$/u.test(trimmed) && trimmed.replace(/^0x/u, '').length % 2 === 0) return Buffer.from(trimmed.replace(/^0x/u, ''), 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/u.test(trimmed)) return Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
  throw new UsageError(`${what} is neither hex nor base64`);
}

function readReport(file: string): Buffer {
  const bytes = readFileSync(file);
  if (bytes.length === SNP_REPORT_SIZE) return bytes;
  return decodeBytes(bytes.toString('utf8'), '--report file');
}

function readCertificate(file: string): X509Certificate {
  return new X509Certificate(readFileSync(file));
}

function parseMinimumTcb(text: string): MinimumTcb {
  const parts = text.split('.').map((part) => Number.parseInt(part, 10));
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new UsageError('--min-tcb must be four numbers 0-255: bootloader.tee.snp.microcode');
  }
  const [bootLoader, tee, snp, microcode] = parts as [number, number, number, number];
  return { bootLoader, tee, snp, microcode };
}

/** Runs the command; returns the exit code. */
export function runVerifyAttestation(argv: readonly string[], io: CliIo): number {
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        report: { type: 'string' },
        measurement: { type: 'string' },
        nonce: { type: 'string' },
        'public-key': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-fingerprint': { type: 'string' },
        'no-tls': { type: 'boolean' },
        vcek: { type: 'string' },
        ask: { type: 'string' },
        ark: { type: 'string' },
        'ark-sha256': { type: 'string', multiple: true },
        'min-tcb': { type: 'string' },
        'allow-debug': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help === true) {
      io.out(USAGE);
      return 0;
    }
    const required = (name: 'report' | 'measurement' | 'nonce' | 'public-key'): string => {
      const value = values[name];
      if (value === undefined) throw new UsageError(`--${name} is required`);
      return value;
    };
    const tlsChoices = [values['tls-cert'], values['tls-fingerprint'], values['no-tls']].filter((v) => v !== undefined).length;
    if (tlsChoices !== 1) throw new UsageError('give exactly one of --tls-cert, --tls-fingerprint, --no-tls');
    const tlsCertificateFingerprint =
      values['tls-cert'] !== undefined
        ? certificateFingerprint(readFileSync(values['tls-cert']))
        : values['tls-fingerprint'] !== undefined
          ? decodeBytes(values['tls-fingerprint'].replaceAll(':', ''), '--tls-fingerprint')
          : null;
    const report = readReport(required('report'));
    const vcek = values.vcek === undefined ? undefined : readCertificate(values.vcek);

    const chainFailures: string[] = [];
    if (values.ask !== undefined || values.ark !== undefined) {
      if (vcek === undefined || values.ask === undefined || values.ark === undefined || values['ark-sha256'] === undefined) {
        throw new UsageError('the chain check needs --vcek, --ask, --ark and --ark-sha256');
      }
      chainFailures.push(
        ...verifyVcekChain({ vcek, ask: readCertificate(values.ask), ark: readCertificate(values.ark), trustedArkSha256: values['ark-sha256'] }),
      );
    }

    const verdict = verifyAttestationReport(report, {
      measurement: decodeBytes(required('measurement'), '--measurement'),
      nonce: decodeBytes(required('nonce'), '--nonce'),
      enclavePublicKey: decodeBytes(required('public-key'), '--public-key'),
      tlsCertificateFingerprint,
      allowDebug: values['allow-debug'] === true,
      ...(vcek === undefined ? {} : { vcek }),
      ...(values['min-tcb'] === undefined ? {} : { minimumTcb: parseMinimumTcb(values['min-tcb']) }),
    });
    const ok = verdict.ok && chainFailures.length === 0;
    if (values.json === true) {
      io.out(
        JSON.stringify({
          verdict: ok ? 'accepted' : 'rejected',
          checks: verdict.checks,
          chainFailures,
          report: verdict.report === null ? null : describeSnpReport(verdict.report),
        }),
      );
    } else {
      for (const check of verdict.checks) io.out(`${check.status.toUpperCase().padEnd(7)} ${check.name}: ${check.detail}`);
      for (const failure of chainFailures) io.out(`FAIL    chain: ${failure}`);
      io.out(ok ? 'ACCEPTED' : 'REJECTED');
    }
    return ok ? 0 : 1;
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
