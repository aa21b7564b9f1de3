// /metrics for operators only (issue 14, part 4): on its own interface and port, and only to a
// scrape that presents the bearer token read from METRICS_TOKEN_FILE, or (METRICS_CLIENT_CA) a
// client certificate issued by the ops CA over mTLS; either suffices when both are configured.
// Without either it refuses everyone (enclave mode) or serves anonymously (development only). The account label
// inside is a keyed pseudonym (src/actors/metrics.ts), so even an authorized scrape lists no customer.
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  /** The bearer token a scrape must present; null: see `anonymous`. */
  readonly token: string | null;
  /** With no token and no client CA: serve anonymous scrapes (development) or refuse them all (enclave mode). */
  readonly anonymous: boolean;
  /**
   * mTLS: the server speaks HTTPS with `certificate` and accepts a scrape whose client certificate
   * chains to `clientCa` (the ops CA, PEM), beside the bearer token when one is set.
   */
  readonly mtls?: { readonly clientCa: Buffer; readonly certificate: { readonly cert: Buffer | string; readonly key: Buffer | string } };
}

/** The token in METRICS_TOKEN_FILE (surrounding whitespace dropped); an empty file is refused. */
export function readMetricsToken(file: string): string {
  const token = readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new Error('METRICS_TOKEN_FILE: the token must be at least 16 characters');
  return token;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Constant-time check of an Authorization header against the token. */
export function authorized(header: string | undefined, token: string): boolean {
  const match = /^Bearer (\S+)$/u.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/** A client certificate the TLS layer verified against the ops CA (only on the mTLS server). */
const verifiedClient = (request: IncomingMessage): boolean => (request.socket as Partial<TLSSocket>).authorized === true;

export async function startMetricsServer(registry: Registry, options: MetricsServerOptions): Promise<Server> {
  const expected = options.token;
  const mtls = options.mtls;
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    const byCertificate = mtls !== undefined && verifiedClient(request);
    const byToken = expected !== null && authorized(request.headers.authorization, expected);
    const allowed = byCertificate || byToken || (expected === null && mtls === undefined && options.anonymous);
    if (!allowed) {
      response.writeHead(401, { 'www-authenticate': 'Bearer realm="enclave-metrics"' }).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  };
  // rejectUnauthorized false: a scraper with the token but no certificate still connects; the
  // handler accepts only a certificate the ops CA issued (socket.authorized).
  const server: Server = mtls === undefined
    ? createServer(handler)
    : createHttpsServer({ cert: mtls.certificate.cert, key: mtls.certificate.key, ca: mtls.clientCa, requestCert: true, rejectUnauthorized: false }, handler);
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return server;
}
