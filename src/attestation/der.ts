// A minimal DER reader: just enough to read the AMD extensions of a VCEK/VLEK certificate and the
// revoked serials of AMD's CRL, which node:crypto does not expose. Definite lengths only (DER);
// anything else throws CertificateFormatError.
import { CertificateFormatError } from './errors.js';

export interface Tlv {
  readonly tag: number;
  /** The whole element, header included (what a signature covers). */
  readonly raw: Buffer;
  readonly value: Buffer;
}

export const DER_TAG = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
} as const;

/** Reads one element at `offset`. */
export function readTlv(bytes: Buffer, offset = 0): Tlv {
  const fail = (): never => {
    throw new CertificateFormatError('malformed DER');
  };
  if (offset + 2 > bytes.length) fail();
  const tag = bytes[offset]!;
  let length = bytes[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || offset + 2 + count > bytes.length) fail();
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + bytes[offset + 2 + i]!;
    header += count;
  }
  const end = offset + header + length;
  if (end > bytes.length) fail();
  return { tag, raw: bytes.subarray(offset, end), value: bytes.subarray(offset + header, end) };
}

/** The elements inside a constructed element's value. */
export function children(parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < parent.value.length) {
    const child = readTlv(parent.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

/** Dotted text of an OBJECT IDENTIFIER's value. */
export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new CertificateFormatError('empty OID');
  const parts: number[] = [Math.floor(value[0]! / 40), value[0]! % 40];
  let current = 0;
  for (const byte of value.subarray(1)) {
    current = current * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      parts.push(current);
      current = 0;
    }
  }
  return parts.join('.');
}

/** A non-negative INTEGER's value as a number (SPL values are 0..255). */
export function decodeSmallInteger(value: Buffer): number {
  if (value.length === 0 || value.length > 6) throw new CertificateFormatError('integer out of range');
  return value.reduce((acc, byte) => acc * 256 + byte, 0);
}

/** An INTEGER's value as lower-case hex without leading zero bytes (certificate serials). */
export function integerHex(value: Buffer): string {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start += 1;
  return value.subarray(start).toString('hex');
}
