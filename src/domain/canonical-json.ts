// RFC 8785 (JSON Canonicalization Scheme) for the values we hash: strings, booleans, integers,
// null, arrays and objects (keys sorted by UTF-16 code units, no whitespace). Floats are not used
// in hashed documents, so number formatting beyond integers does not arise. Trustee hashes its KBS
// runtime data the same way (serde_json_canonicalizer).
export type Canonical = string | number | boolean | null | readonly Canonical[] | { readonly [key: string]: Canonical };

export function canonicalJson(value: Canonical): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: Canonical) => canonicalJson(item)).join(',')}]`;
  const record = value as { readonly [key: string]: Canonical };
  const keys = Object.keys(record).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key]!)}`).join(',')}}`;
}

