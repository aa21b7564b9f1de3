// A small key broker for development and tests that speaks the Trustee KBS protocol (see
// src/attestation/kbs-protocol.ts) with the same endpoints, and checks reports with the project's
// verifier against a policy (policy.ts). Production uses a real Trustee deployment with the
// equivalent policy (docs/attestation.md); this one exists so the whole release path runs here.
//
// Sessions: /auth makes a session with a fresh 32-byte nonce (cookie kbs-session-id, 5 minutes);
// /attest consumes the nonce whatever the outcome (one report per challenge); a session that
// passed may fetch resources until it expires. Replies to refused requests say only which step
// failed; the failed checks go to the broker's own log.
//
// Rollback anchors (docs/sealed-storage.md "Whole-account rollback"): an attested session may also
// read and raise monotonic counters (GET / POST /kbs/v0/anchors), one per opaque label (the enclave
// sends HMAC pseudonyms). A raise never lowers a counter; only an attested enclave may reset one
// (an account it removed). With `anchorFile` they survive a broker restart (written atomically).
import { createPublicKey, createSign, generateKeyPairSync, randomBytes, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AttestationRejectedError, assertAttestationReport } from '../attestation/verify.js';
import { rawSnpReport } from '../attestation/snp-evidence.js';
import {
  attestationSchema,
  encryptJwe,
  KBS_PROTOCOL_VERSION,
  KBS_SESSION_COOKIE,
  KBS_TEE_SNP,
  kbsReportData,
  requestSchema,
} from '../attestation/kbs-protocol.js';
import type { Logger } from '../config/logger.js';
import type { BrokerPolicy } from './policy.js';

export interface KeyBrokerOptions {
  readonly policy: BrokerPolicy;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Serve HTTPS with this certificate and key (PEM); plain HTTP without. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly logger?: Logger;
  readonly sessionTtlMs?: number;
  /** Where the rollback anchors are kept (JSON, label → counter); in memory only without it. */
  readonly anchorFile?: string;
}

export interface RunningKeyBroker {
  readonly url: string;
  readonly port: number;
  /** SHA-256 of the served certificate (what KEY_BROKER_CERT_SHA256 pins), or null for HTTP. */
  readonly certSha256: string | null;
  /** Resources released so far (tests count them). */
  readonly released: () => number;
  close(): Promise<void>;
}

interface Session {
  readonly expires: number;
  nonce: string | null;
  teeKey: KeyObject | null;
}

const MAX_BODY = 64 * 1024;
/** An anchor push carries every account whose record moved since the last one (~80 bytes each). */
const MAX_ANCHOR_BODY = 16 * 1024 * 1024;
const anchorLabel = z.string().regex(/^[0-9a-f]{64}$/u);
const anchorValue = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const anchorPushSchema = z.object({ reset: z.array(anchorLabel), raise: z.record(anchorLabel, anchorValue) }).strict();
const anchorFileSchema = z.record(anchorLabel, anchorValue);

function loadAnchors(file: string | undefined): Map<string, number> {
  if (file === undefined || !existsSync(file)) return new Map();
  return new Map(Object.entries(anchorFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')))));
}

function readBody(request: IncomingMessage, limit = MAX_BODY): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(null);
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Trustee's ErrorInformation shape: {type, detail}. */
function refuse(response: ServerResponse, status: number, type: string, detail: string): void {
  reply(response, status, { type: `https://github.com/confidential-containers/kbs/errors/${type}`, detail });
}

function cookieOf(request: IncomingMessage): string | null {
  const header = request.headers.cookie ?? '';
  const match = new RegExp(`(?:^|;\\s*)${KBS_SESSION_COOKIE}=([^;]+)`, 'u').exec(header);
  return match?.[1] ?? null;
}

function parseJsonBody(body: Buffer | null): unknown {
  if (body === null) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export async function startKeyBroker(options: KeyBrokerOptions): Promise<RunningKeyBroker> {
  const { policy, logger } = options;
  const ttl = options.sessionTtlMs ?? 300_000;
  const sessions = new Map<string, Session>();
  // Signs the attestation token (ES256), as Trustee signs its EAR/JWT token; nothing relies on it here.
  const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  let released = 0;
  const anchors = loadAnchors(options.anchorFile);
  const saveAnchors = (): void => {
    if (options.anchorFile === undefined) return;
    const temporary = `${options.anchorFile}.tmp`;
    writeFileSync(temporary, JSON.stringify(Object.fromEntries(anchors)));
    renameSync(temporary, options.anchorFile);
  };

  const liveSession = (request: IncomingMessage): Session | null => {
    const id = cookieOf(request);
    const session = id === null ? undefined : sessions.get(id);
    if (session === undefined || session.expires < Date.now()) return null;
    return session;
  };

  const token = (claims: Record<string, unknown>): string => {
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
    const unsigned = `${encode({ alg: 'ES256', typ: 'JWT' })}.${encode(claims)}`;
    const signature = createSign('sha256').update(unsigned).sign({ key: tokenKey, dsaEncoding: 'ieee-p1363' });
    return `${unsigned}.${signature.toString('base64url')}`;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://broker');
    for (const [id, session] of sessions) if (session.expires < Date.now()) sessions.delete(id);

    if (request.method === 'POST' && url.pathname === '/kbs/v0/auth') {
      const parsed = requestSchema.safeParse(parseJsonBody(await readBody(request)));
      if (!parsed.success) return refuse(response, 400, 'InvalidRequest', 'the body is not a KBS Request');
      if (parsed.data.version !== KBS_PROTOCOL_VERSION) return refuse(response, 401, 'ProtocolVersion', `protocol version ${KBS_PROTOCOL_VERSION} is required`);
      if (parsed.data.tee !== KBS_TEE_SNP) return refuse(response, 401, 'UnsupportedTee', 'only snp is supported');
      const id = randomUUID();
      const nonce = randomBytes(32).toString('base64');
      sessions.set(id, { expires: Date.now() + ttl, nonce, teeKey: null });
      return reply(response, 200, { nonce, 'extra-params': '' }, { 'set-cookie': `${KBS_SESSION_COOKIE}=${id}; Path=/kbs; HttpOnly; Max-Age=${Math.floor(ttl / 1000)}` });
    }

    if (request.method === 'POST' && url.pathname === '/kbs/v0/attest') {
      const session = liveSession(request);
      if (session === null || session.nonce === null) return refuse(response, 401, 'UnAuthenticatedCookie', 'no live session with an unused challenge');
      const nonce = session.nonce;
      session.nonce = null; // one report per challenge, whatever the outcome
      const parsed = attestationSchema.safeParse(parseJsonBody(await readBody(request)));
      if (!parsed.success) return refuse(response, 400, 'InvalidRequest', 'the body is not a KBS Attestation');
      const attestation = parsed.data;
      if (attestation['runtime-data'].nonce !== nonce) return refuse(response, 401, 'AttestationFailed', 'the runtime data does not carry this session\'s nonce');
      const teePubkey = attestation['runtime-data']['tee-pubkey'];
      const evidence = attestation['tee-evidence'];
      const evidenceVcek = evidence.primary_evidence.cert_chain?.find((entry) => entry.cert_type === 'VCEK' || entry.cert_type === 'VLEK');
      const vcek = evidenceVcek === undefined ? policy.endorsements.vcek : new X509Certificate(Buffer.from(evidenceVcek.data));
      if (vcek === undefined) return refuse(response, 401, 'AttestationFailed', 'no VCEK: the evidence carries none and none is configured');
      try {
        const report = assertAttestationReport(rawSnpReport(evidence.primary_evidence.attestation_report), {
          expected: { reportData: kbsReportData(nonce, teePubkey, evidence.additional_evidence) },
          policy: policy.attestation,
          endorsements: { ...policy.endorsements, vcek },
        });
        session.teeKey = createPublicKey({ key: teePubkey, format: 'jwk' });
        logger?.info({ measurement: report.measurement.toString('hex') }, 'broker: attestation accepted');
        const now = Math.floor(Date.now() / 1000);
        return reply(response, 200, { token: token({ iat: now, exp: now + Math.floor(ttl / 1000), 'tee-pubkey': teePubkey, measurement: report.measurement.toString('hex') }) });
      } catch (error) {
        if (!(error instanceof AttestationRejectedError)) throw error;
        logger?.warn({ failed: error.failed.map((check) => check.name) }, 'broker: attestation refused');
        return refuse(response, 401, 'AttestationFailed', `the evidence does not satisfy the policy (${error.failed.map((check) => check.name).join(', ')})`);
      }
    }

    if (url.pathname === '/kbs/v0/anchors' && (request.method === 'GET' || request.method === 'POST')) {
      const session = liveSession(request);
      if (session === null || session.teeKey === null) return refuse(response, 401, 'UnAuthenticatedCookie', 'attest first');
      if (request.method === 'GET') return reply(response, 200, { anchors: Object.fromEntries(anchors) });
      const parsed = anchorPushSchema.safeParse(parseJsonBody(await readBody(request, MAX_ANCHOR_BODY)));
      if (!parsed.success) return refuse(response, 400, 'InvalidRequest', 'the body is not an anchor push');
      for (const label of parsed.data.reset) anchors.delete(label);
      // Monotonic: a raise below the kept counter changes nothing.
      for (const [label, value] of Object.entries(parsed.data.raise)) if ((anchors.get(label) ?? 0) < value) anchors.set(label, value);
      saveAnchors();
      return reply(response, 200, { anchors: anchors.size });
    }

    const resource = /^\/kbs\/v0\/resource\/([^/]+\/[^/]+\/[^/]+)$/u.exec(url.pathname);
    if (request.method === 'GET' && resource !== null) {
      const session = liveSession(request);
      if (session?.teeKey === null || session === null) return refuse(response, 401, 'UnAuthenticatedCookie', 'attest first');
      const content = policy.resources.get(resource[1]!);
      if (content === undefined) return refuse(response, 404, 'ResourceNotFound', 'no such resource');
      released += 1;
      return reply(response, 200, encryptJwe(session.teeKey, content));
    }
    return refuse(response, 404, 'InvalidRequest', 'unknown endpoint');
  };

  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response).catch(() => {
      if (!response.headersSent) refuse(response, 500, 'InternalError', 'the broker failed');
    });
  };
  const server: Server = options.tls === undefined ? createHttpServer(listener) : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener);
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  const certSha256 = options.tls === undefined ? null : new X509Certificate(options.tls.cert).fingerprint256.replaceAll(':', '').toLowerCase();
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    certSha256,
    released: () => released,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
