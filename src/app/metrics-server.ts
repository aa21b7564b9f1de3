// /metrics for operators only (issue 14, part 4): on its own interface and port, and only to a
// scrape that presents the bearer token read from METRICS_TOKEN_FILE. Without a token file it
// refuses everyone (enclave mode) or serves anonymously (development only). The account label
// inside is a keyed pseudonym (src/actors/metrics.ts), so even an authorized scrape lists no customer.
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  /** The bearer token a scrape must present; null: see `anonymous`. */
  readonly token: string | null;
  /** With no token: serve anonymous scrapes (development) or refuse them all (enclave mode). */
  readonly anonymous: boolean;
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

export async function startMetricsServer(registry: Registry, options: MetricsServerOptions): Promise<Server> {
  const expected = options.token;
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    const allowed = expected === null ? options.anonymous : authorized(request.headers.authorization, expected);
    if (!allowed) {
      response.writeHead(401, { 'www-authenticate': 'Bearer realm="enclave-metrics"' }).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return server;
}
