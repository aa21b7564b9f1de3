// How instances of one deployment recognise each other (issue 18, forwarded commands). Every
// instance holds the same root secrets (released by the key broker to an attested guest, or the
// development key ring), so each derives the same peer CA key and the same tag key from them:
// - the peer CA (ECDSA P-256, key from the seed): each instance issues itself a client certificate
//   with it, and every server adds the CA to the client CAs it accepts. Nobody without the root
//   secrets can make a certificate the others accept.
// - the peer tag: the in-memory server certificate stays self-signed (the gateway pins it through
//   the attestation report), so it carries one more DNS name, an HMAC of its own public key under
//   the tag key. A forwarding instance accepts a reply only from a server whose certificate bears a
//   valid tag. What it sends needs no such check: a forwarded request is the gateway's own request
//   (a sealed credential in it opens only inside an enclave).
import { createECDH, createHmac, createPrivateKey, createSecretKey, hkdfSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { certificateSerial, createIssuedCertificate, type InMemoryCertificate } from './self-signed-certificate.js';

export interface PeerTls {
  /** PEM of the peer CA: servers accept client certificates it issued. */
  readonly ca: Buffer;
  /** This instance's client certificate (issued by the peer CA) and its key, in memory only. */
  readonly client: InMemoryCertificate;
  /** The DNS names a server certificate with this public key (SPKI DER) carries to be recognised by peers. */
  tagNames(spki: Buffer): readonly string[];
  /** True when the certificate (DER) carries the peer tag of its own public key. */
  endorses(certDer: Buffer): boolean;
}

const SALT = 'track-record-enclave/peer-tls/v1';
const CA_NAME = 'track-record-enclave peer CA';
const TAG_SUFFIX = '.peer.enclave.invalid';
// Fixed, so every instance's copy of the CA certificate has the same fields (only the ECDSA
// signature differs, which chain verification does not compare).
const CA_NOT_BEFORE = new Date(Date.UTC(2025, 0, 1));
const CA_NOT_AFTER = new Date(Date.UTC(2049, 11, 31));

function p256FromSeed(seed: Buffer): KeyObject {
  const ecdh = createECDH('prime256v1');
  // Throws for the ~2^-32 seeds at or above the group order: a deployment would then pick another secret.
  ecdh.setPrivateKey(seed);
  const point = ecdh.getPublicKey();
  return createPrivateKey({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', d: seed.toString('base64url'), x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
  });
}

/** Derives the peer material from the current root secret (`id` names it in the derivation). */
export function createPeerTls(rootSecret: Buffer, id: number): PeerTls {
  const caSeed = Buffer.from(hkdfSync('sha256', rootSecret, Buffer.from(SALT, 'utf8'), Buffer.from(`p-256 ca key ${id}`, 'utf8'), 32));
  const tagMaterial = Buffer.from(hkdfSync('sha256', rootSecret, Buffer.from(SALT, 'utf8'), Buffer.from(`hmac-sha256 tag key ${id}`, 'utf8'), 32));
  const tagKey = createSecretKey(tagMaterial);
  tagMaterial.fill(0);
  const caKey = p256FromSeed(caSeed);
  caSeed.fill(0);
  const issuer = { commonName: CA_NAME, privateKey: caKey };
  const ca = createIssuedCertificate({ commonName: CA_NAME, issuer, privateKey: caKey, ca: true, notBefore: CA_NOT_BEFORE, notAfter: CA_NOT_AFTER, serial: Buffer.of(0x01) });
  const now = Date.now();
  const client = createIssuedCertificate({
    commonName: 'track-record-enclave peer', issuer, ca: false,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + 365 * 86_400_000),
    serial: certificateSerial(randomBytes(16)),
  });
  const tagOf = (spki: Buffer): string => `${createHmac('sha256', tagKey).update(spki).digest().subarray(0, 30).toString('hex')}${TAG_SUFFIX}`;
  return {
    ca: ca.cert,
    client,
    tagNames: (spki) => [tagOf(spki)],
    endorses(certDer) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(certDer);
      } catch {
        return false;
      }
      const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
      return (cert.subjectAltName ?? '').split(', ').includes(`DNS:${tagOf(spki)}`);
    },
  };
}
