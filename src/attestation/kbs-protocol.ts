// The Confidential Containers Trustee KBS attestation protocol, version 0.4.0, as written in
// confidential-containers/trustee kbs/docs/kbs_attestation_protocol.md and implemented in
// kbs/src/attestation/backend.rs, kbs/src/jwe/mod.rs and attestation-service/src/lib.rs:
//
//   POST /kbs/v0/auth    Request {version, tee: "snp", extra-params}  → Challenge {nonce, extra-params}
//                        + Set-Cookie kbs-session-id=<id>
//   POST /kbs/v0/attest  Attestation {runtime-data: {nonce, tee-pubkey (JWK)}, tee-evidence:
//                        {primary_evidence, additional_evidence}} (with the cookie) → {token}
//   GET  /kbs/v0/resource/<repository>/<type>/<tag>  (with the cookie) → JWE flattened JSON
//                        {protected, encrypted_key, iv, ciphertext, tag} wrapped to tee-pubkey
//
// REPORT_DATA: the KBS builds the runtime data {"tee-pubkey", "nonce", "additional-evidence"}
// (backend.rs), the attestation service hashes its RFC 8785 canonical JSON with SHA-384 for SNP
// (coco/builtin.rs: every TEE but `se` uses SHA-384) and the SNP verifier compares it with
// REPORT_DATA zero-padded to 64 bytes (deps/verifier/src/lib.rs regularize_data).
//
// Key wrapping: RSA-OAEP-256 (RSAES-OAEP, SHA-256, MGF1-SHA-256) of a fresh AES-256 key, content
// A256GCM with AAD = ASCII(protected) (RFC 7516 §5.1; jwe/mod.rs rsa_oaep256). Our tee-pubkey is
// therefore an RSA key {"kty":"RSA","alg":"RSA-OAEP-256","n","e"}.
import { constants, createCipheriv, createDecipheriv, createHash, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../domain/canonical-json.js';
import { KeyReleaseError } from './errors.js';
import { trusteeCertTableEntrySchema, trusteeSnpReportSchema } from './snp-evidence.js';

export const KBS_PROTOCOL_VERSION = '0.4.0';
export const KBS_SESSION_COOKIE = 'kbs-session-id';
export const KBS_TEE_SNP = 'snp';
export const JWE_ALG = 'RSA-OAEP-256';
export const JWE_ENC = 'A256GCM';

export const rsaJwkSchema = z.object({ kty: z.literal('RSA'), alg: z.literal(JWE_ALG), n: z.string().min(1), e: z.string().min(1) }).strict();
export type TeePublicKey = z.infer<typeof rsaJwkSchema>;

export const challengeSchema = z.object({ nonce: z.string().min(1), 'extra-params': z.unknown().optional() });
export type Challenge = z.infer<typeof challengeSchema>;

export const requestSchema = z.object({ version: z.string(), tee: z.string(), 'extra-params': z.unknown().optional() });

/**
 * SNP primary evidence as Trustee's SNP verifier reads it (deps/verifier/src/snp/mod.rs
 * SnpEvidence): virtee/sev's AttestationReport and CertTableEntry in their serde JSON form
 * (snp-evidence.ts documents the encoding and its sources).
 */
export const snpEvidenceSchema = z.object({
  attestation_report: trusteeSnpReportSchema,
  cert_chain: z.array(trusteeCertTableEntrySchema).nullable().optional(),
});

export const attestationSchema = z.object({
  'init-data': z.unknown().optional(),
  'runtime-data': z.object({ nonce: z.string(), 'tee-pubkey': rsaJwkSchema }),
  'tee-evidence': z.object({ primary_evidence: snpEvidenceSchema, additional_evidence: z.string().default('') }),
});
export type Attestation = z.infer<typeof attestationSchema>;

export const jweSchema = z.object({
  protected: z.string(),
  encrypted_key: z.string(),
  iv: z.string(),
  ciphertext: z.string(),
  tag: z.string(),
  aad: z.string().optional(),
});
export type Jwe = z.infer<typeof jweSchema>;

/** The 64 bytes of REPORT_DATA a Trustee KBS expects for this nonce, key and additional evidence. */
export function kbsReportData(nonce: string, teePublicKey: TeePublicKey, additionalEvidence = ''): Buffer {
  const runtimeData = canonicalJson({ 'tee-pubkey': teePublicKey, nonce, 'additional-evidence': additionalEvidence });
  const digest = createHash('sha384').update(runtimeData, 'utf8').digest();
  return Buffer.concat([digest, Buffer.alloc(64 - digest.length)]);
}

/** The JWK of an RSA public key, as tee-pubkey. */
export function teePublicKeyOf(publicKey: KeyObject): TeePublicKey {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || jwk.n === undefined || jwk.e === undefined) throw new KeyReleaseError('the ephemeral key is not an RSA key');
  return { kty: 'RSA', alg: JWE_ALG, n: jwk.n, e: jwk.e };
}

/** Broker side: wraps `payload` to `recipient` (RSA-OAEP-256 + A256GCM). */
export function encryptJwe(recipient: KeyObject, payload: Buffer): Jwe {
  const cek = randomBytes(32);
  const iv = randomBytes(12);
  const protectedHeader = Buffer.from(JSON.stringify({ alg: JWE_ALG, enc: JWE_ENC }), 'utf8').toString('base64url');
  try {
    const cipher = createCipheriv('aes-256-gcm', cek, iv);
    cipher.setAAD(Buffer.from(protectedHeader, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(payload), cipher.final()]);
    const encryptedKey = publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
    return {
      protected: protectedHeader,
      encrypted_key: encryptedKey.toString('base64url'),
      iv: iv.toString('base64url'),
      ciphertext: ciphertext.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
    };
  } finally {
    cek.fill(0);
  }
}

/** Enclave side: opens a resource response with the ephemeral private key. Throws KeyReleaseError. */
export function decryptJwe(privateKey: KeyObject, jwe: Jwe): Buffer {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString('utf8'));
  } catch {
    throw new KeyReleaseError('the resource response has no readable protected header');
  }
  const parsed = z.object({ alg: z.literal(JWE_ALG), enc: z.literal(JWE_ENC) }).safeParse(header);
  if (!parsed.success) throw new KeyReleaseError(`the resource response is not ${JWE_ALG}/${JWE_ENC}`);
  let cek: Buffer | undefined;
  try {
    cek = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(jwe.encrypted_key, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', cek, Buffer.from(jwe.iv, 'base64url'));
    decipher.setAAD(Buffer.from(jwe.aad === undefined ? jwe.protected : `${jwe.protected}.${jwe.aad}`, 'ascii'));
    decipher.setAuthTag(Buffer.from(jwe.tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(jwe.ciphertext, 'base64url')), decipher.final()]);
  } catch {
    throw new KeyReleaseError('the resource response does not decrypt under the ephemeral key');
  } finally {
    cek?.fill(0);
  }
}
