// A tiny node:http server on 127.0.0.1:0 with a fault queue, shared by the Alpaca and Flex fakes.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One injected failure, consumed by the next request whose path matches. */
export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly body: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly kind: 'hang' }
  | { readonly kind: 'malformed'; readonly body?: string }
  | { readonly kind: 'reset' };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type Handler = (request: RecordedRequest, response: ServerResponse) => void;

export interface FakeServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Queues a fault for the next `times` requests whose path contains `pathPart`. */
  inject(pathPart: string, fault: Fault, times?: number): void;
  close(): Promise<void>;
}

export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const faults: { pathPart: string; fault: Fault }[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: { ...req.headers } };
    requests.push(recorded);
    req.resume();
    const index = faults.findIndex((f) => url.pathname.includes(f.pathPart));
    if (index >= 0) {
      const [{ fault }] = faults.splice(index, 1) as [{ pathPart: string; fault: Fault }];
      switch (fault.kind) {
        case 'status':
          res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
          res.end(fault.body);
          return;
        case 'hang':
          return; // never answers; the socket is destroyed on close()
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(fault.body ?? '[{"id":"2024');
          return;
        case 'reset':
          req.socket.destroy();
          return;
      }
    }
    handler(recorded, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject(pathPart, fault, times = 1) {
      for (let i = 0; i < times; i += 1) faults.push({ pathPart, fault });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export function sendXml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' });
  res.end(body);
}
