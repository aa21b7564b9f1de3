// Clients verify before they seal (issue 13, item 5). `sealCredentialForEnclave` is what the ops
// CLI's `enclave add` runs and what the gateway can call: it asks the service for its key and an
// SEV-SNP report on a fresh nonce, verifies the report (AMD chain, signature, measurement on the
// release manifest's allow-list, HOST_DATA, guest policy) and that REPORT_DATA binds this nonce,
// the key it is about to seal to, the TLS certificate this very connection was served and the
// build hash the service reported (which must equal the manifest's `buildHash` when it pins one), then
// fetches a single-use registration challenge and seals to that key (version 3). Any failure
// throws before a byte of ciphertext exists: a server that cannot prove it is the measured enclave
// receives nothing. Only `insecureDev` skips the proof, for the simulated/dev service.
import { randomBytes } from 'node:crypto';
import { Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { z } from 'zod';
import type { AccountKey, VenueCredential } from '../domain/types.js';
import { sealCredential, X25519_PUBLIC_KEY_LENGTH } from '../crypto/sealed-intake.js';
import { buildHashBytes } from '../attestation/binding.js';
import { InvalidAttestationRequestError } from '../attestation/errors.js';
import { assertAttestationReport, type AttestationPolicy, type Endorsements } from '../attestation/verify.js';
import type { EnclaveServiceClient } from '../grpc/generated/enclave.js';
import { accountToWire } from '../grpc/wire.js';

/** The enclave could not prove itself, or its proof does not match what was pinned: nothing was sealed. */
export class EnclaveNotTrustedError extends Error {
  override name = 'EnclaveNotTrustedError';
}

/** The release manifest is not one this client can pin measurements from. */
export class ReleaseManifestError extends Error {
  override name = 'ReleaseManifestError';
}

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`, 'u'));
const manifestSchema = z.object({
  schema: z.literal('track-record-enclave/release-manifest/v1'),
  version: z.string(),
  // The allow-list: every launch measurement of this release (one per vCPU count / CPU type the
  // image is launched with). `measurement` is the older single value, still read.
  measurements: z.array(hex(48)).optional(),
  measurement: hex(48).nullable().optional(),
  hostData: hex(32).nullable().optional(),
  buildHash: hex(32).nullable().optional(),
});

/** What a release manifest pins: its measurements and, when bound, HOST_DATA and the build hash. */
export interface PinnedRelease {
  readonly version: string;
  readonly measurements: readonly Buffer[];
  readonly hostData: Buffer | null;
  /** The build hash (hex, lower case) the enclave must report and bind; null when the manifest pins none. */
  readonly buildHash: string | null;
}

/** Reads the pins of a release manifest (scripts/release-manifest.ts); a manifest without a measurement pins nothing and is refused. */
export function pinnedRelease(manifestText: string): PinnedRelease {
  let parsed: z.infer<typeof manifestSchema>;
  try {
    parsed = manifestSchema.parse(JSON.parse(manifestText));
  } catch {
    throw new ReleaseManifestError('the release manifest is not valid JSON of schema track-record-enclave/release-manifest/v1 (measurements: 48-byte hex, hostData and buildHash: 32-byte hex)');
  }
  const all = [...(parsed.measurements ?? []), ...(parsed.measurement === null || parsed.measurement === undefined ? [] : [parsed.measurement])];
  const measurements = [...new Set(all.map((m) => m.toLowerCase()))].map((m) => Buffer.from(m, 'hex'));
  if (measurements.length === 0) throw new ReleaseManifestError('the release manifest lists no launch measurement: nothing to pin (npm run release-manifest -- --measurement HEX)');
  return {
    version: parsed.version,
    measurements,
    hostData: parsed.hostData === null || parsed.hostData === undefined ? null : Buffer.from(parsed.hostData, 'hex'),
    buildHash: parsed.buildHash === null || parsed.buildHash === undefined ? null : parsed.buildHash.toLowerCase(),
  };
}

/** What the client trusts: the policy (measurements from the manifest, at least) and AMD's certificates for the report. */
export interface EnclaveTrust {
  readonly policy: AttestationPolicy;
  readonly endorsements: Endorsements;
  /**
   * The build hash (hex) the service must report, from the release manifest; null or absent:
   * whatever build hash the service reports is bound and checked against the report, not pinned.
   */
  readonly buildHash?: string | null;
}

export interface SealForEnclaveRequest {
  readonly client: EnclaveServiceClient;
  readonly account: AccountKey;
  readonly credential: VenueCredential;
  /** The pins, or 'insecure-dev': seal to whatever key the service reports (simulated/dev service only). */
  readonly trust: EnclaveTrust | 'insecure-dev';
  /**
   * SHA-256 of the TLS leaf certificate this client's channel was served (captured in its
   * checkServerIdentity), or null on a plaintext channel. Read after the first call, when the
   * handshake has happened.
   */
  readonly servedCertificateFingerprint: () => Uint8Array | null;
  readonly deadlineMs?: number;
  /** Test seam for the nonce. */
  readonly random?: (size: number) => Buffer;
}

export interface SealedForEnclave {
  readonly sealed: Buffer;
  /** True when the key was proven to be the measured enclave's; false only with 'insecure-dev'. */
  readonly verified: boolean;
  /** The launch measurement that was accepted (hex), when verified. */
  readonly measurement: string | null;
}

type Unary<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => ClientUnaryCall;

function ask<Req, Res>(method: Unary<Req, Res>, request: Req, deadlineMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => (error === null ? resolve(response) : reject(error)));
  });
}

const NONCE_LENGTH = 32;

/** Verifies the service is the pinned enclave, then seals the credential to its key with a fresh registration challenge. */
export async function sealCredentialForEnclave(request: SealForEnclaveRequest): Promise<SealedForEnclave> {
  const { client, account, trust } = request;
  const deadlineMs = request.deadlineMs ?? 30_000;
  const identity = await ask(client.getEnclaveIdentity.bind(client), {}, deadlineMs);
  const publicKey = Buffer.from(identity.hpkePublicKey);
  if (publicKey.byteLength !== X25519_PUBLIC_KEY_LENGTH) throw new EnclaveNotTrustedError('the service reported no 32-byte X25519 key');

  let measurement: string | null = null;
  if (trust !== 'insecure-dev') {
    const pinnedBuildHash = trust.buildHash ?? null;
    if (pinnedBuildHash !== null && identity.buildHash.toLowerCase() !== pinnedBuildHash.toLowerCase()) {
      throw new EnclaveNotTrustedError(`the service reports build hash ${identity.buildHash}, the release manifest pins ${pinnedBuildHash}; refusing to seal`);
    }
    let buildHash: Buffer | null;
    try {
      buildHash = buildHashBytes(identity.buildHash);
    } catch (error) {
      if (!(error instanceof InvalidAttestationRequestError)) throw error;
      throw new EnclaveNotTrustedError(`the service reported a malformed build hash: ${error.message}; refusing to seal`, { cause: error });
    }
    const nonce = (request.random ?? randomBytes)(NONCE_LENGTH);
    let report: Uint8Array;
    try {
      report = (await ask(client.getAttestation.bind(client), { nonce }, deadlineMs)).report;
    } catch (error) {
      // FAILED_PRECONDITION (no SEV-SNP device) included: without a report there is no proof.
      throw new EnclaveNotTrustedError(`the service gave no attestation report (${error instanceof Error ? error.message : 'failed'}); refusing to seal`, { cause: error });
    }
    try {
      const verified = assertAttestationReport(report, {
        // The statement-signing key the service reports is bound too when it has one (binding.ts).
        expected: { binding: { nonce, enclavePublicKey: publicKey, tlsCertificateFingerprint: request.servedCertificateFingerprint(), buildHash, statementSigningKey: signingKeyOf(identity.statementSigningKey) } },
        policy: trust.policy,
        endorsements: trust.endorsements,
      });
      measurement = verified.measurement.toString('hex');
    } catch (error) {
      throw new EnclaveNotTrustedError(`the enclave's attestation was rejected, refusing to seal: ${error instanceof Error ? error.message : 'failed'}`, { cause: error });
    }
  }

  const { challenge } = await ask(client.getRegistrationChallenge.bind(client), accountToWire(account), deadlineMs);
  const sealed = await sealCredential(publicKey, account, request.credential, { challenge });
  return { sealed, verified: trust !== 'insecure-dev', measurement };
}

/** GetEnclaveIdentity's statement_signing_key: null when empty (a service that signs nothing); 32 bytes otherwise. */
export function signingKeyOf(bytes: Uint8Array | undefined): Buffer | null {
  if (bytes === undefined || bytes.byteLength === 0) return null;
  if (bytes.byteLength !== 32) throw new EnclaveNotTrustedError('the service reported a statement-signing key that is not 32 bytes; refusing to seal');
  return Buffer.from(bytes);
}
