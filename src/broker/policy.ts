// The development broker's policy file (JSON). Paths are relative to the file. Example:
// {
//   "measurements": ["<96 hex>"],             allowed launch measurements
//   "hostData": "<64 hex>",                   the HOST_DATA of the approved configuration (`enclave-broker host-data`)
//   "minimumTcb": {"bootLoader": 3, "tee": 0, "snp": 8, "microcode": 115},
//   "minimumLaunchTcb": {...}, "minimumGuestSvn": 0, "vmpl": 0, "requireSmtDisabled": false,
//   "idKeyDigests": ["<96 hex>"],             optional: require an ID block signed by one of these
//   "endorsements": {"vcek": "vcek.pem", "certChain": "cert_chain.pem", "crl": "crl.der"},
//   "trustedArkSha256": ["<64 hex>"],         optional: replaces AMD's pinned roots (test chains only)
//   "resources": {"track-record/enclave/root-secrets": "root-secrets.json"}
// }
// Debug and migration-agent guests are never accepted by this broker: the file has no switch for it.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AttestationPolicy, Endorsements } from '../attestation/verify.js';
import { BrokerPolicyError } from './errors.js';

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`, 'u'), `expected ${bytes * 2} hex characters`);
const tcb = z.object({ bootLoader: z.number().int().min(0).max(255).optional(), tee: z.number().int().min(0).max(255).optional(), snp: z.number().int().min(0).max(255).optional(), microcode: z.number().int().min(0).max(255).optional(), fmc: z.number().int().min(0).max(255).optional() }).strict();

const policyFileSchema = z
  .object({
    measurements: z.array(hex(48)).min(1),
    hostData: hex(32),
    minimumTcb: tcb.optional(),
    minimumLaunchTcb: tcb.optional(),
    minimumGuestSvn: z.number().int().min(0).optional(),
    vmpl: z.number().int().min(0).max(3).default(0),
    requireSmtDisabled: z.boolean().default(false),
    idKeyDigests: z.array(hex(48)).optional(),
    endorsements: z.object({ vcek: z.string().optional(), certChain: z.string(), crl: z.string().optional() }).strict(),
    trustedArkSha256: z.array(z.string()).optional(),
    resources: z.record(z.string().regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/u), z.string()),
  })
  .strict();

export type PolicyFile = z.input<typeof policyFileSchema>;

export interface BrokerPolicy {
  readonly attestation: AttestationPolicy;
  /** ARK and ASK from the configured chain; the VCEK from the evidence when it carries one, else this one. */
  readonly endorsements: Omit<Endorsements, 'vcek'> & { readonly vcek?: X509Certificate };
  /** Resource path → content. */
  readonly resources: ReadonlyMap<string, Buffer>;
}

function certificates(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/gu) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/** Builds a policy from its JSON form; `read` resolves the file names in it. */
export function brokerPolicyFrom(input: unknown, read: (name: string) => Buffer): BrokerPolicy {
  const parsed = policyFileSchema.safeParse(input);
  if (!parsed.success) throw new BrokerPolicyError(`invalid broker policy: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  const file = parsed.data;
  const [ask, ark] = certificates(read(file.endorsements.certChain));
  if (ask === undefined || ark === undefined) throw new BrokerPolicyError('endorsements.certChain must hold the ASK then the ARK (PEM), as AMD KDS serves cert_chain');
  const vcek = file.endorsements.vcek === undefined ? undefined : certificates(read(file.endorsements.vcek))[0];
  const pins = file.trustedArkSha256;
  return {
    attestation: {
      measurements: file.measurements.map((m) => Buffer.from(m, 'hex')),
      hostData: Buffer.from(file.hostData, 'hex'),
      vmpl: file.vmpl,
      requireSmtDisabled: file.requireSmtDisabled,
      allowDebug: false,
      allowMigrationAgent: false,
      ...(file.minimumTcb === undefined ? {} : { minimumTcb: file.minimumTcb }),
      ...(file.minimumLaunchTcb === undefined ? {} : { minimumLaunchTcb: file.minimumLaunchTcb }),
      ...(file.minimumGuestSvn === undefined ? {} : { minimumGuestSvn: file.minimumGuestSvn }),
      ...(file.idKeyDigests === undefined ? {} : { idKeyDigests: file.idKeyDigests.map((d) => Buffer.from(d, 'hex')) }),
    },
    endorsements: {
      ark,
      ask,
      ...(vcek === undefined ? {} : { vcek }),
      ...(file.endorsements.crl === undefined ? {} : { crl: read(file.endorsements.crl) }),
      ...(pins === undefined ? {} : { trustedArks: { Milan: pins, Genoa: pins, Turin: pins } }),
    },
    resources: new Map(Object.entries(file.resources).map(([resourcePath, name]) => [resourcePath, read(name)])),
  };
}

/** Reads a policy file; names in it are relative to its folder. */
export function loadBrokerPolicy(file: string): BrokerPolicy {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new BrokerPolicyError(`cannot read the policy file ${file} as JSON`);
  }
  const folder = path.dirname(file);
  return brokerPolicyFrom(json, (name) => {
    try {
      return readFileSync(path.resolve(folder, name));
    } catch {
      throw new BrokerPolicyError(`cannot read ${name} named in the policy`);
    }
  });
}
