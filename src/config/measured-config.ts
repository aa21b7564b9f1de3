// The security-relevant configuration, as one canonical document whose SHA-256 is the HOST_DATA
// the VM must be launched with. HOST_DATA is set by whoever launches the guest and reported, signed,
// by the firmware in every attestation report; so the operator may choose the configuration, but:
//   - the enclave refuses to run when its own configuration does not hash to its report's
//     HOST_DATA (src/attestation/key-release.ts), and
//   - the key broker releases nothing unless HOST_DATA is one its policy approved.
// Everything not in this document is either fixed in the measured image (code, venue origins,
// AMD roots) or not security-relevant (ports, log level, intervals).
//
// Canonical form: src/domain/canonical-json.ts. The document's own `version` lets it grow.
import { createHash } from 'node:crypto';
import { canonicalJson, type Canonical } from '../domain/canonical-json.js';
import { EXCHANGES } from '../domain/types.js';
import { databaseSslMode, type Config } from './config.js';

/** The measured part of a database URL: where and how, never the password. */
function databaseOf(url: string | undefined): Canonical {
  if (url === undefined) return { embedded: true };
  const parsed = new URL(url);
  const sslmode = databaseSslMode(url);
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    database: parsed.pathname.replace(/^\//u, ''),
    user: decodeURIComponent(parsed.username),
    sslmode,
    tlsRequired: sslmode === 'verify-full' || sslmode === 'verify-ca' || sslmode === 'require',
  };
}

export interface MeasuredConfiguration {
  readonly document: Canonical;
  /** canonicalJson(document). */
  readonly text: string;
  /** SHA-256 of text: the HOST_DATA to launch with and to put in the broker policy. */
  readonly hostData: Buffer;
}

/** `gatewayCa` is the content of TLS_CA_FILE (null when unset). */
export function measuredConfiguration(config: Config, gatewayCa: Buffer | null): MeasuredConfiguration {
  const document: Canonical = {
    version: 1,
    enclaveMode: config.ENCLAVE_MODE,
    amdSevSnp: config.AMD_SEV_SNP,
    // Venue origins are compiled into the image (src/exchanges); overrides are refused in enclave mode.
    venues: [...EXCHANGES],
    venueBaseUrls: config.VENUE_BASE_URLS ?? null,
    keyBroker: {
      url: config.KEY_BROKER_URL ?? null,
      certSha256: config.KEY_BROKER_CERT_SHA256?.replaceAll(':', '').toLowerCase() ?? null,
      resource: config.KEY_BROKER_RESOURCE,
    },
    gatewayCaSha256: gatewayCa === null ? null : createHash('sha256').update(gatewayCa).digest('hex'),
    database: databaseOf(config.DATABASE_URL),
    tsmReportRoot: config.TSM_REPORT_ROOT,
    // Changes every published return around large flows: a verifier must see which share was used
    // (a decimal string: hashed documents hold no floats).
    largeFlowShare: String(config.LARGE_FLOW_SHARE),
  };
  const text = canonicalJson(document);
  return { document, text, hostData: createHash('sha256').update(text, 'utf8').digest() };
}

export { canonicalJson };
