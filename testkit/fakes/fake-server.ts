// The small core every fake venue shares: an HTTP server on 127.0.0.1:0, routing, an
// authentication hook, a request log without signatures, and a queue of faults to inject.
// Each venue module supplies only what really differs: paths, signing rules, wire formats.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  /** The query string exactly as sent (signatures are computed over it). */
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface FakeReply {
  readonly status: number;
  /** JSON-encoded unless `raw` is given. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Faults a test can queue for the next requests to a path:
 * - rate-limit: 429 with Retry-After (the venue's body);
 * - ip-ban: 418 (Binance, MEXC) or 403 with Retry-After;
 * - venue-rate-limit: the venue's own rate-limit code (Bybit 10006, Binance -1003);
 * - clock-skew: Binance -1021 and its equivalents; bad-signature: Binance -1022 and equivalents;
 * - server-error: 503; hang: never answers; malformed: 200 with a truncated JSON body.
 */
export type Fault = 'rate-limit' | 'ip-ban' | 'venue-rate-limit' | 'clock-skew' | 'bad-signature' | 'server-error' | 'hang' | 'malformed';

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly signed: boolean;
  readonly handle: (request: FakeRequest) => FakeReply;
}

export interface Dialect {
  /** undefined when the request is properly signed; otherwise the venue's rejection. */
  readonly authenticate: (request: FakeRequest) => FakeReply | undefined;
  /** The venue's reply for a fault (never called for `hang`). */
  readonly fault: (fault: Exclude<Fault, 'hang'>) => FakeReply;
  readonly notFound: (request: FakeRequest) => FakeReply;
}

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  /** Query parameters minus the signature. */
  readonly params: Readonly<Record<string, string>>;
}

export function hmacSha256(secret: string, payload: string, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(payload).digest(encoding);
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function header(request: FakeRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses an integer query parameter, undefined when absent. */
export function intParam(request: FakeRequest, name: string): number | undefined {
  const value = request.query.get(name);
  if (value === null || value === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) ? n : Number.NaN;
}

export class FakeVenueServer {
  readonly requests: LoggedRequest[] = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly faults: { readonly pathPart: string; readonly fault: Fault }[] = [];
  private readonly routes: Map<string, Route>;
  /** How many requests were left hanging (for assertions). */
  hung = 0;
  /** Consulted for every request the queue has no fault for: a fault to answer with, or none (load tests). */
  randomFault: ((request: FakeRequest) => Fault | undefined) | undefined;
  /** Counters the venue modules keep (e.g. fills served, border repeats included). */
  readonly counters = new Map<string, number>();

  constructor(private readonly dialect: Dialect, routes: readonly Route[]) {
    this.routes = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
    this.server = http.createServer((req, res) => { this.serve(req, res); });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next requests whose path contains `pathPart` get these faults, in order. */
  inject(pathPart: string, ...faults: Fault[]): void {
    for (const fault of faults) this.faults.push({ pathPart, fault });
  }

  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  pendingFaults(): number {
    return this.faults.length;
  }

  requestsTo(pathPart: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path.includes(pathPart));
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const request: FakeRequest = {
        method: req.method ?? 'GET',
        path: q < 0 ? url : url.slice(0, q),
        rawQuery: q < 0 ? '' : url.slice(q + 1),
        query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const params = Object.fromEntries([...request.query].filter(([k]) => k !== 'signature'));
      this.requests.push({ method: request.method, path: request.path, params });
      const reply = this.answer(request);
      if (reply === 'hang') {
        this.hung += 1;
        return;
      }
      const text = reply.raw ?? JSON.stringify(reply.body ?? null);
      if (process.env['FAKE_VENUE_DEBUG'] === '1' && reply.status >= 400) console.error('fake venue:', request.method, request.path, request.rawQuery.replace(/signature=\w+/u, ''), reply.status, text);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(text);
    });
  }

  private answer(request: FakeRequest): FakeReply | 'hang' {
    const index = this.faults.findIndex((f) => request.path.includes(f.pathPart));
    const fault = index >= 0 ? this.faults.splice(index, 1)[0]?.fault ?? 'server-error' : this.randomFault?.(request);
    if (fault !== undefined) {
      this.count(`fault:${fault}`);
      return fault === 'hang' ? 'hang' : this.dialect.fault(fault);
    }
    const route = this.routes.get(`${request.method} ${request.path}`);
    if (route === undefined) {
      this.count('unrouted');
      return this.dialect.notFound(request);
    }
    if (route.signed) {
      const rejection = this.dialect.authenticate(request);
      if (rejection !== undefined) return rejection;
    }
    return route.handle(request);
  }
}

export const MALFORMED_BODY = '{"code":0,"data":[{"id":';
