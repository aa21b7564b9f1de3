// A TLS server certificate made in memory: a fresh ECDSA P-256 key pair and a self-signed X.509 v3
// certificate for it, so in enclave mode the TLS private key never exists outside the enclave's
// memory. Clients do not trust it through a CA: they verify the attestation report, which binds the
// certificate's SHA-256 fingerprint in REPORT_DATA, and then pin that certificate.
// Just enough DER (ITU-T X.690) to write RFC 5280's TBSCertificate; no library, since the runtime
// dependencies hold no X.509 writer.
import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP as isIpAddress } from 'node:net';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let value = n; value > 0; value = Math.floor(value / 256)) bytes.unshift(value & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const value = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), length(value.length), value]);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [first * 40 + second];
  for (const part of rest) {
    const chunk: number[] = [part & 0x7f];
    for (let value = Math.floor(part / 128); value > 0; value = Math.floor(value / 128)) chunk.unshift((value & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const sequence = (...content: Buffer[]): Buffer => tlv(0x30, ...content);

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/gu, '').slice(0, 14);
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

function name(commonName: string): Buffer {
  return sequence(tlv(0x31, sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function ipBytes(address: string): Buffer {
  if (isIpAddress(address) === 4) return Buffer.from(address.split('.').map(Number));
  const [head = '', tail = ''] = address.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...Array<string>(address.includes('::') ? missing : 0).fill('0'), ...groups(tail)];
  return Buffer.concat(all.map((group) => Buffer.from(group.padStart(4, '0'), 'hex')));
}

export interface InMemoryCertificate {
  /** PEM certificate. */
  readonly cert: Buffer;
  /** PEM PKCS#8 private key, for the TLS stack only: never written anywhere. */
  readonly key: Buffer;
}

export interface SelfSignedOptions {
  /** Host names and IP addresses the certificate is valid for (subjectAltName). */
  readonly names: readonly string[];
  readonly commonName?: string;
  readonly validDays?: number;
  /** More DNS names computed from the certificate's own public key (SPKI DER): the peer tag (peer-tls.ts). */
  readonly namesOfKey?: (spki: Buffer) => readonly string[];
}

/** A certificate signed by another key: the peer CA's own certificate and the certificates it issues. */
export interface IssuedCertificateOptions {
  readonly commonName: string;
  /** Signs the certificate (ECDSA P-256); the subject's key when self-signed. */
  readonly issuer: { readonly commonName: string; readonly privateKey: KeyObject };
  /** The subject's key pair; a fresh P-256 one when absent. */
  readonly privateKey?: KeyObject;
  /** A CA (keyCertSign) or an end entity for TLS clients and servers. */
  readonly ca: boolean;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial: Buffer;
}

/**
 * A DER INTEGER serial from random bytes: positive (top bit clear) and minimal (first byte never
 * 0x00). Clearing only the top bit gave a 0x00 lead about once in 128, which X.509 parsers refuse
 * as illegal padding when the next byte is below 0x80: about one certificate in 256.
 */
export function certificateSerial(random: Buffer): Buffer {
  const serial = Buffer.from(random);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

/** Generates a key pair and a self-signed certificate for `names`. */
export function createSelfSignedCertificate(options: SelfSignedOptions): InMemoryCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const names = [...options.names, ...(options.namesOfKey?.(spki) ?? [])];
  const altNames = names.map((entry) =>
    isIpAddress(entry) === 0 ? tlv(0x82, Buffer.from(entry, 'ascii')) : tlv(0x87, ipBytes(entry)),
  );
  const now = Date.now();
  const commonName = options.commonName ?? 'track-record-enclave';
  return certificate({
    serial: certificateSerial(randomBytes(16)), subject: commonName, issuer: commonName, spki, signer: privateKey,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + (options.validDays ?? 365) * 86_400_000),
    extensions: [
      sequence(oid('2.5.29.17'), tlv(0x04, sequence(...altNames))),
      // basicConstraints: not a CA; extKeyUsage: TLS server.
      sequence(oid('2.5.29.19'), tlv(0x01, Buffer.of(0xff)), tlv(0x04, sequence())),
      sequence(oid('2.5.29.37'), tlv(0x04, sequence(oid('1.3.6.1.5.5.7.3.1')))),
    ],
  }, privateKey);
}

/** A CA certificate or one it issues (no subjectAltName: peers are not checked by host name). */
export function createIssuedCertificate(options: IssuedCertificateOptions): InMemoryCertificate {
  const privateKey = options.privateKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const extensions = options.ca
    ? [
        // basicConstraints: critical, CA; keyUsage: critical, keyCertSign.
        sequence(oid('2.5.29.19'), tlv(0x01, Buffer.of(0xff)), tlv(0x04, sequence(tlv(0x01, Buffer.of(0xff))))),
        sequence(oid('2.5.29.15'), tlv(0x01, Buffer.of(0xff)), tlv(0x04, tlv(0x03, Buffer.of(0x02, 0x04)))),
      ]
    : [
        sequence(oid('2.5.29.19'), tlv(0x01, Buffer.of(0xff)), tlv(0x04, sequence())),
        // extKeyUsage: TLS server and TLS client.
        sequence(oid('2.5.29.37'), tlv(0x04, sequence(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')))),
      ];
  return certificate({
    serial: options.serial, subject: options.commonName, issuer: options.issuer.commonName, spki, signer: options.issuer.privateKey,
    notBefore: options.notBefore, notAfter: options.notAfter, extensions,
  }, privateKey);
}

interface CertificateFields {
  readonly serial: Buffer;
  readonly subject: string;
  readonly issuer: string;
  readonly spki: Buffer;
  readonly signer: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly Buffer[];
}

function certificate(fields: CertificateFields, privateKey: KeyObject): InMemoryCertificate {
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'));
  const tbs = sequence(
    tlv(0xa0, tlv(0x02, Buffer.of(2))),
    tlv(0x02, fields.serial),
    ecdsaWithSha256,
    name(fields.issuer),
    sequence(time(fields.notBefore), time(fields.notAfter)),
    name(fields.subject),
    fields.spki,
    tlv(0xa3, sequence(...fields.extensions)),
  );
  const signature = sign('sha256', tbs, fields.signer);
  const der = sequence(tbs, ecdsaWithSha256, tlv(0x03, Buffer.of(0), signature));
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/gu, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
  return { cert: Buffer.from(pem, 'ascii'), key: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}
