// Attestation reports through the Linux configfs-tsm interface
// (Documentation/ABI/testing/configfs-tsm-report, kernel ≥ 6.7):
//   mkdir $root/$name            the kernel populates inblob, outblob, provider, generation, …
//   write $name/privlevel        optional VMPL (bumps `generation`)
//   write $name/inblob           up to 64 bytes of report data (one write; bumps `generation`)
//   read  $name/outblob          the provider's report (sev_guest: the raw ATTESTATION_REPORT)
//   read  $name/provider         format of outblob; we require "sev_guest"
//   read  $name/generation       must still equal the number of writes we made, else another
//                                writer changed the entry between our write and our read
//   rmdir $name
// Each request uses its own uniquely named entry, so concurrent requests do not race.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { attestationReportData, buildHashBytes } from './binding.js';
import { AttestationDeviceError, AttestationStartupError, AttestationUnavailableError, ReportFormatError } from './errors.js';
import type { EnclaveIdentity } from './identity.js';
import { parseSnpReport, SNP_REPORT_DATA_LENGTH, type SnpReport } from './snp-report.js';

export const DEFAULT_TSM_REPORT_ROOT = '/sys/kernel/config/tsm/report';
export const SEV_GUEST_PROVIDER = 'sev_guest';

export interface TsmReportOptions {
  /** The configfs-tsm report directory (default DEFAULT_TSM_REPORT_ROOT). */
  readonly root?: string;
  /**
   * How long to wait for an attribute file to appear. configfs creates them with the directory,
   * so this only matters for a directory that is not configfs (the test double).
   */
  readonly attributeTimeoutMs?: number;
  /**
   * SEV-SNP VMPL to request the report at (`privlevel`, 0-3). Unset: the kernel default, which
   * must not be below `privlevel_floor` (a guest under an SVSM needs this set).
   */
  readonly privlevel?: number;
}

export interface TsmReport {
  readonly provider: string;
  readonly generation: number;
  readonly outblob: Buffer;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Errors that mean "this machine has no usable TSM provider", as opposed to an I/O failure. */
const NO_PROVIDER_CODES = new Set(['ENOENT', 'ENXIO', 'ENODEV', 'ENOTTY', 'EOPNOTSUPP', 'ENOTSUP']);

/** True when `root` exists and is a directory. */
export async function isTsmReportRootPresent(root: string = DEFAULT_TSM_REPORT_ROOT): Promise<boolean> {
  try {
    return (await stat(root)).isDirectory();
  } catch {
    return false;
  }
}

async function readAttribute(entry: string, name: string, deadline: number): Promise<Buffer> {
  for (;;) {
    try {
      return await readFile(path.join(entry, name));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT' || Date.now() >= deadline) throw error;
      await sleep(2);
    }
  }
}

async function removeEntry(entry: string): Promise<void> {
  try {
    await rmdir(entry);
  } catch (error) {
    const code = errorCode(error);
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') return;
    // configfs drops attributes with the directory; a plain directory needs its files unlinked.
    try {
      for (const name of await readdir(entry)) await unlink(path.join(entry, name));
      await rmdir(entry);
    } catch {
      // Best effort: a stale entry holds no secret (report data and a public report only).
    }
  }
}

async function withEntry<T>(root: string, use: (entry: string) => Promise<T>): Promise<T> {
  const entry = path.join(root, `tre-${process.pid}-${randomUUID()}`);
  await mkdir(entry);
  try {
    return await use(entry);
  } finally {
    await removeEntry(entry);
  }
}

/** Reads the provider name of a fresh entry without generating a report. */
export async function probeTsmProvider(options: TsmReportOptions = {}): Promise<string> {
  const root = options.root ?? DEFAULT_TSM_REPORT_ROOT;
  const deadline = Date.now() + (options.attributeTimeoutMs ?? 2_000);
  return withEntry(root, async (entry) => (await readAttribute(entry, 'provider', deadline)).toString('utf8').trim());
}

/** One raw configfs-tsm exchange: write `inblob`, read `outblob`, check provider and generation. */
export async function requestTsmReport(inblob: Uint8Array, options: TsmReportOptions = {}): Promise<TsmReport> {
  if (inblob.byteLength === 0 || inblob.byteLength > SNP_REPORT_DATA_LENGTH) throw new RangeError('inblob must be 1 to 64 bytes');
  const root = options.root ?? DEFAULT_TSM_REPORT_ROOT;
  const timeoutMs = options.attributeTimeoutMs ?? 2_000;
  const privlevel = options.privlevel;
  if (privlevel !== undefined && (!Number.isInteger(privlevel) || privlevel < 0 || privlevel > 3)) throw new RangeError('privlevel must be 0 to 3');
  return withEntry(root, async (entry) => {
    // Every attribute write bumps `generation`; we make one or two.
    let writes = 0;
    if (privlevel !== undefined) {
      await writeFile(path.join(entry, 'privlevel'), `${privlevel}\n`);
      writes += 1;
    }
    await writeFile(path.join(entry, 'inblob'), inblob);
    writes += 1;
    const deadline = Date.now() + timeoutMs;
    const provider = (await readAttribute(entry, 'provider', deadline)).toString('utf8').trim();
    const outblob = await readAttribute(entry, 'outblob', deadline);
    const generationText = (await readAttribute(entry, 'generation', deadline)).toString('utf8').trim();
    const generation = Number.parseInt(generationText, 10);
    if (generation !== writes) {
      throw new AttestationDeviceError(`configfs-tsm generation is ${generationText}, expected ${writes}: another writer changed the entry`);
    }
    return { provider, generation, outblob };
  });
}

export interface AttesterOptions extends TsmReportOptions {
  /** The AMD_SEV_SNP flag: true means this machine must attest. */
  readonly amdSevSnp: boolean;
  readonly identity: Pick<EnclaveIdentity, 'publicKey' | 'buildHash'>;
  /** SHA-256 of the served TLS certificate's DER (see binding.ts), or null without TLS. */
  readonly tlsCertificateFingerprint: Uint8Array | null;
  /** The statement-signing public key to bind (see binding.ts); absent: none. */
  readonly statementSigningKey?: Uint8Array;
}

export interface Attestation {
  /** The raw 1184-byte report, to hand to verifiers unchanged. */
  readonly report: Buffer;
  readonly parsed: SnpReport;
  /** The 64 bytes written to inblob (also parsed.reportData). */
  readonly reportData: Buffer;
}

export interface Attester {
  getAttestation(nonce: Uint8Array): Promise<Attestation>;
}

export function createAttester(options: AttesterOptions): Attester {
  const root = options.root ?? DEFAULT_TSM_REPORT_ROOT;
  const unavailable = (reason: string): Error =>
    options.amdSevSnp ? new AttestationDeviceError(reason) : new AttestationUnavailableError(`${reason} (AMD_SEV_SNP is not true)`);
  return {
    async getAttestation(nonce) {
      // Validates the nonce before any device I/O.
      const reportData = attestationReportData({
        nonce,
        enclavePublicKey: options.identity.publicKey,
        tlsCertificateFingerprint: options.tlsCertificateFingerprint,
        buildHash: buildHashBytes(options.identity.buildHash),
        statementSigningKey: options.statementSigningKey ?? null,
      });
      if (!(await isTsmReportRootPresent(root))) throw unavailable(`no SEV-SNP attestation device: ${root} does not exist`);
      let exchange: TsmReport;
      try {
        exchange = await requestTsmReport(reportData, options);
      } catch (error) {
        if (error instanceof AttestationDeviceError) throw error;
        const code = errorCode(error);
        if (code !== undefined && NO_PROVIDER_CODES.has(code)) throw unavailable(`the configfs-tsm interface has no report provider (${code})`);
        throw new AttestationDeviceError(`configfs-tsm report request failed (${code ?? 'unknown error'})`, { cause: error });
      }
      if (exchange.provider !== SEV_GUEST_PROVIDER) {
        throw unavailable(`the attestation provider is "${exchange.provider}", not ${SEV_GUEST_PROVIDER}`);
      }
      let parsed: SnpReport;
      try {
        parsed = parseSnpReport(exchange.outblob);
      } catch (error) {
        if (error instanceof ReportFormatError) throw new AttestationDeviceError(`the device returned no valid report: ${error.message}`, { cause: error });
        throw error;
      }
      if (!parsed.reportData.equals(reportData)) throw new AttestationDeviceError('the report does not carry the requested report data');
      return { report: parsed.raw, parsed, reportData };
    },
  };
}

/**
 * Start-up rule: with AMD_SEV_SNP=true the service refuses to start unless a configfs-tsm
 * `sev_guest` provider answers. Returns whether attestation is available (for logging).
 */
export async function checkAttestationAtStartup(options: { readonly amdSevSnp: boolean } & TsmReportOptions): Promise<boolean> {
  const root = options.root ?? DEFAULT_TSM_REPORT_ROOT;
  let provider: string | null = null;
  if (await isTsmReportRootPresent(root)) {
    try {
      provider = await probeTsmProvider(options);
    } catch {
      provider = null;
    }
  }
  const available = provider === SEV_GUEST_PROVIDER;
  if (options.amdSevSnp && !available) {
    const why = provider === null ? `no configfs-tsm report interface at ${root}` : `the configfs-tsm provider is "${provider}", not ${SEV_GUEST_PROVIDER}`;
    throw new AttestationStartupError(`AMD_SEV_SNP=true but ${why}: refusing to start`);
  }
  return available;
}
