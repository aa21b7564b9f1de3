// Attested key release, enclave side: a Trustee KBS client (protocol in kbs-protocol.ts).
//   1. an ephemeral RSA key pair, in memory only;
//   2. POST /kbs/v0/auth → the broker's nonce and a session cookie;
//   3. a fresh SEV-SNP report whose REPORT_DATA is SHA-384 over {nonce, tee-pubkey} (so the
//      report proves this key was made for this nonce inside this guest);
//   4. before sending it, the enclave checks its own report: HOST_DATA must be the hash of the
//      configuration it actually runs with (else the operator launched it with a HOST_DATA that
//      does not describe it, and it stops);
//   5. POST /kbs/v0/attest; GET /kbs/v0/resource/<path> → a JWE only the ephemeral key opens.
// HTTPS to the broker is pinned to one certificate fingerprint from the measured configuration,
// not to any CA: a broker that is not the pinned one could hand out a secret it knows. node:https
// rather than fetch, because fetch cannot pin a certificate without the undici package. Nothing
// sent is secret (a nonce, a public key, a public report); what is read is trusted only after the
// pin matched.
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { requestTsmReport, SEV_GUEST_PROVIDER, type TsmReportOptions } from './configfs-tsm.js';
import { AttestationError, KeyReleaseError } from './errors.js';
import {
  challengeSchema,
  decryptJwe,
  jweSchema,
  KBS_PROTOCOL_VERSION,
  KBS_SESSION_COOKIE,
  KBS_TEE_SNP,
  kbsReportData,
  teePublicKeyOf,
  type Attestation,
} from './kbs-protocol.js';
import { parseSnpReport, type SnpReport } from './snp-report.js';
import { trusteeSnpReport } from './snp-evidence.js';

export interface KeyReleaseOptions {
  /** Base URL of the broker (https in enclave mode). */
  readonly brokerUrl: string;
  /** SHA-256 of the broker's TLS certificate; required for https. */
  readonly brokerCertSha256?: string;
  /** Resource path `repository/type/tag`. */
  readonly resourcePath: string;
  readonly tsm: TsmReportOptions;
  /** The HOST_DATA this configuration hashes to: the enclave's own report must carry it. */
  readonly expectedHostData: Buffer;
  readonly timeoutMs?: number;
}

export interface KeyRelease {
  /** The released resource (the caller zeroes it once the keys are derived). */
  readonly resource: Buffer;
  /** The report the broker accepted. */
  readonly report: SnpReport;
}

interface HttpReply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

const normalize = (fingerprint: string): string => fingerprint.replaceAll(':', '').toLowerCase();

/** One request to the broker over the pinned channel (also the rollback-anchor client's). */
export function send(url: URL, method: 'GET' | 'POST', body: unknown, cookie: string | null, options: Pick<KeyReleaseOptions, 'brokerCertSha256' | 'timeoutMs'>, maxBytes = 1024 * 1024): Promise<HttpReply> {
  const https = url.protocol === 'https:';
  if (https && options.brokerCertSha256 === undefined) return Promise.reject(new KeyReleaseError('an https broker needs a pinned certificate fingerprint'));
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (cookie !== null) headers.cookie = `${KBS_SESSION_COOKIE}=${cookie}`;
  return new Promise<HttpReply>((resolve, reject) => {
    const onResponse = (response: IncomingMessage): void => {
      if (https) {
        const presented = (response.socket as TLSSocket).getPeerCertificate().fingerprint256;
        if (typeof presented !== 'string' || normalize(presented) !== normalize(options.brokerCertSha256 ?? '')) {
          response.destroy();
          reject(new KeyReleaseError('the broker does not present the pinned certificate'));
          return;
        }
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) response.destroy(new KeyReleaseError('the broker reply is too large'));
        else chunks.push(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    };
    const common = { method, headers, agent: false as const, timeout: options.timeoutMs ?? 15_000 };
    // The certificate is checked by its pin in onResponse, not by a CA chain.
    const req = https ? httpsRequest(url, { ...common, rejectUnauthorized: false }, onResponse) : httpRequest(url, common, onResponse);
    req.on('timeout', () => req.destroy(new KeyReleaseError('the broker did not answer in time')));
    req.on('error', (error) => reject(error instanceof KeyReleaseError ? error : new KeyReleaseError(`the broker is unreachable (${'code' in error ? String(error.code) : 'error'})`)));
    req.end(payload);
  });
}

export function parseJson(reply: HttpReply, step: string): unknown {
  if (reply.status !== 200) throw new KeyReleaseError(`the broker refused ${step} (HTTP ${reply.status})`);
  try {
    return JSON.parse(reply.body.toString('utf8'));
  } catch {
    throw new KeyReleaseError(`the broker's ${step} reply is not JSON`);
  }
}

function sessionCookie(reply: HttpReply): string {
  for (const line of reply.headers['set-cookie'] ?? []) {
    const match = new RegExp(`(?:^|;\\s*)${KBS_SESSION_COOKIE}=([^;]+)`, 'u').exec(line);
    if (match?.[1] !== undefined) return match[1];
  }
  throw new KeyReleaseError(`the broker set no ${KBS_SESSION_COOKIE} cookie`);
}

/** A broker session that passed attestation: its cookie, and the ephemeral key resources are sealed to. */
export interface AttestedSession {
  readonly base: URL;
  readonly cookie: string;
  readonly privateKey: KeyObject;
  readonly report: SnpReport;
}

/** Steps 1–4 and the attestation: a session the broker trusts. Throws KeyReleaseError (or the device's error). */
export async function attestSession(options: Omit<KeyReleaseOptions, 'resourcePath'>): Promise<AttestedSession> {
  const base = new URL(options.brokerUrl.endsWith('/') ? options.brokerUrl : `${options.brokerUrl}/`);
  const { publicKey, privateKey } = (await promisify(generateKeyPair)('rsa', { modulusLength: 3072 })) as { publicKey: KeyObject; privateKey: KeyObject };
  const teePubkey = teePublicKeyOf(publicKey);

  const auth = await send(new URL('kbs/v0/auth', base), 'POST', { version: KBS_PROTOCOL_VERSION, tee: KBS_TEE_SNP, 'extra-params': '' }, null, options);
  const challenge = challengeSchema.safeParse(parseJson(auth, 'the auth request'));
  if (!challenge.success) throw new KeyReleaseError('the broker challenge is malformed');
  const cookie = sessionCookie(auth);
  const nonce = challenge.data.nonce;

  let exchange: Awaited<ReturnType<typeof requestTsmReport>>;
  try {
    // configfs creates a report's attributes with its directory; the wait only matters for a
    // directory that is not configfs (the test double under load), so it may be generous.
    exchange = await requestTsmReport(kbsReportData(nonce, teePubkey), { attributeTimeoutMs: 10_000, ...options.tsm });
  } catch (error) {
    if (error instanceof AttestationError) throw error;
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'unknown error';
    throw new KeyReleaseError(`the configfs-tsm report request failed (${code})`, { cause: error });
  }
  if (exchange.provider !== SEV_GUEST_PROVIDER) throw new KeyReleaseError(`the attestation provider is "${exchange.provider}", not ${SEV_GUEST_PROVIDER}`);
  let report: SnpReport;
  try {
    report = parseSnpReport(exchange.outblob);
  } catch (error) {
    if (error instanceof AttestationError) throw new KeyReleaseError('the device returned no valid report', { cause: error });
    throw error;
  }
  if (!report.hostData.equals(options.expectedHostData)) {
    throw new KeyReleaseError('HOST_DATA in this guest\'s report is not the hash of its configuration: launched with another configuration, refusing');
  }

  const attestation: Attestation = {
    'runtime-data': { nonce, 'tee-pubkey': teePubkey },
    // Trustee's SNP verifier deserializes virtee/sev's AttestationReport (serde JSON), not raw bytes.
    'tee-evidence': { primary_evidence: { attestation_report: trusteeSnpReport(report.raw), cert_chain: null }, additional_evidence: '' },
  };
  parseJson(await send(new URL('kbs/v0/attest', base), 'POST', attestation, cookie, options), 'the attestation');
  return { base, cookie, privateKey, report };
}

/** Runs the whole exchange. Throws KeyReleaseError (or the attestation device's error). */
export async function releaseKeys(options: KeyReleaseOptions): Promise<KeyRelease> {
  const { base, cookie, privateKey, report } = await attestSession(options);
  const resourceReply = await send(new URL(`kbs/v0/resource/${options.resourcePath}`, base), 'GET', undefined, cookie, options);
  const jwe = jweSchema.safeParse(parseJson(resourceReply, 'the resource request'));
  if (!jwe.success) throw new KeyReleaseError('the resource response is not a JWE');
  return { resource: decryptJwe(privateKey, jwe.data), report };
}
