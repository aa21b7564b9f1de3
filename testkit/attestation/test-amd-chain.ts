// A stand-in for AMD's endorsement chain, generated in the test (no AMD hardware or KDS here):
// an RSA-PSS "ARK" and "ASK" like AMD's, and an ECDSA P-384 "VCEK" carrying AMD's TCB and hwID
// extensions, whose private key signs synthetic reports. Also a CRL issued by the ARK.
import './reflect-metadata-shim.js';
import { KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { VCEK_EXTENSION_OIDS } from '../../src/attestation/amd-certificates.js';
import { buildSyntheticReport, milanTcb, type SyntheticReportFields } from './synthetic-report.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The chip id the test VCEK is certified for (the synthetic report's default CHIP_ID). */
export const TEST_CHIP_ID = Buffer.alloc(64, 0x77);
/** The TCB the test VCEK is certified at (the synthetic report's default REPORTED_TCB: 3, 0, 8, 115). */
export const TEST_TCB = { bootLoader: 3, tee: 0, snp: 8, microcode: 115 } as const;

export interface TestAmdChain {
  readonly ark: X509Certificate;
  readonly ask: X509Certificate;
  readonly vcek: X509Certificate;
  /** Signs reports as the AMD-SP would with the VCEK. */
  readonly vcekPrivateKey: KeyObject;
  /** ARK pins to pass as `trustedArks` (the test root for every product). */
  readonly trustedArks: { readonly Milan: readonly string[]; readonly Genoa: readonly string[]; readonly Turin: readonly string[] };
  /** A DER CRL signed by the ARK revoking the given serials (hex). */
  crl(revokedSerials: readonly string[], nextUpdate?: Date): Promise<Buffer>;
  /** A report signed by this VCEK (defaults: the synthetic report's). */
  report(fields?: SyntheticReportFields): Buffer;
}

const rsa = { name: 'RSA-PSS', hash: 'SHA-384', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
const pss = { name: 'RSA-PSS', saltLength: 48 };

function derInteger(value: number): Uint8Array {
  const bytes = value >= 0x80 ? [0x00, value] : [value];
  return new Uint8Array([0x02, bytes.length, ...bytes]);
}

export interface VcekOptions {
  readonly tcb?: { bootLoader: number; tee: number; snp: number; microcode: number };
  readonly hwId?: Buffer;
  /** Omit the hwID extension altogether. */
  readonly noHwId?: boolean;
}

async function generate(vcekOptions: VcekOptions): Promise<TestAmdChain> {
  const arkKeys = (await webcrypto.subtle.generateKey(rsa, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const askKeys = (await webcrypto.subtle.generateKey(rsa, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const vcekKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 86_400_000);
  const notAfter = new Date(Date.now() + 365 * 86_400_000);
  const ark = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=ARK-Test', keys: arkKeys, signingAlgorithm: pss, notBefore, notAfter, serialNumber: '01' });
  const ask = await x509.X509CertificateGenerator.create({
    subject: 'CN=SEV-Test', issuer: ark.subject, publicKey: askKeys.publicKey, signingKey: arkKeys.privateKey, signingAlgorithm: pss, notBefore, notAfter, serialNumber: '02',
  });
  const tcb = vcekOptions.tcb ?? TEST_TCB;
  const extensions = [
    new x509.Extension(VCEK_EXTENSION_OIDS.bootLoaderSpl, false, derInteger(tcb.bootLoader)),
    new x509.Extension(VCEK_EXTENSION_OIDS.teeSpl, false, derInteger(tcb.tee)),
    new x509.Extension(VCEK_EXTENSION_OIDS.snpSpl, false, derInteger(tcb.snp)),
    new x509.Extension(VCEK_EXTENSION_OIDS.microcodeSpl, false, derInteger(tcb.microcode)),
  ];
  // AMD's KDS writes the hwID without an OCTET STRING tag (see go-sev-guest kds.go); so do we.
  if (vcekOptions.noHwId !== true) extensions.push(new x509.Extension(VCEK_EXTENSION_OIDS.hwId, false, vcekOptions.hwId ?? TEST_CHIP_ID));
  const vcek = await x509.X509CertificateGenerator.create({
    subject: 'CN=SEV-VCEK', issuer: ask.subject, publicKey: vcekKeys.publicKey, signingKey: askKeys.privateKey, signingAlgorithm: pss, notBefore, notAfter, serialNumber: '03', extensions,
  });
  const vcekPrivateKey = KeyObject.from(vcekKeys.privateKey);
  const arkCert = new X509Certificate(ark.toString('pem'));
  const pin = [arkCert.fingerprint256];
  return {
    ark: arkCert,
    ask: new X509Certificate(ask.toString('pem')),
    vcek: new X509Certificate(vcek.toString('pem')),
    vcekPrivateKey,
    trustedArks: { Milan: pin, Genoa: pin, Turin: pin },
    async crl(revokedSerials, nextUpdate = new Date(Date.now() + 7 * 86_400_000)) {
      const crl = await x509.X509CrlGenerator.create({
        issuer: ark.subject,
        thisUpdate: new Date(Date.now() - 3_600_000),
        nextUpdate,
        entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(Date.now() - 60_000) })),
        signingKey: arkKeys.privateKey,
        signingAlgorithm: pss,
      });
      return Buffer.from(crl.rawData);
    },
    report(fields = {}) {
      return buildSyntheticReport({ ...fields, signingKey: vcekPrivateKey });
    },
  };
}

let shared: Promise<TestAmdChain> | undefined;

/** One chain per process (RSA key generation is slow); pass options for a differently certified VCEK. */
export function testAmdChain(options?: VcekOptions): Promise<TestAmdChain> {
  if (options !== undefined) return generate(options);
  shared ??= generate({});
  return shared;
}

export { milanTcb };
