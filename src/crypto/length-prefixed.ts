// The one encoding of a text field inside key-derivation info and associated data: u16be(byte
// length) ‖ UTF-8 bytes, so ("ab","c") and ("a","bc") never encode alike.
export function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 0xffff) throw new RangeError('field too long for a u16 length prefix');
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}
