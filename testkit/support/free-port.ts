// A TCP port free on 127.0.0.1 right now (for a server that must know its address before it starts,
// such as an instance's INSTANCE_ADDR). Another process may take it meanwhile: callers retry or accept that.
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}
