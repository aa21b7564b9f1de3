// Issue 18, peer authentication of forwarded commands: an instance presents a client certificate
// from the peer CA derived from the deployment's root secret and accepts a reply only from a
// server certificate bearing the peer tag; nobody without the secret gets either.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { Registry } from 'prom-client';
import { createPeerTls, type PeerTls } from '../../src/crypto/peer-tls.js';
import { createSelfSignedCertificate } from '../../src/crypto/self-signed-certificate.js';
import { createPeerForwarder, peerChannel, PeerUnreachableError, PeerUntrustedError } from '../../src/grpc/peer-forwarding.js';
import type { TlsInMemory } from '../../src/grpc/tls.js';
import { startHarness } from '../../testkit/support/grpc-client.js';

const gatewayCa = createSelfSignedCertificate({ names: ['gateway'] });
const secret = randomBytes(32);
const deployment = createPeerTls(secret, 1);

function serverTls(peer: PeerTls | null): TlsInMemory {
  const cert = createSelfSignedCertificate({ names: ['127.0.0.1', 'localhost'], ...(peer === null ? {} : { namesOfKey: (spki: Buffer) => peer.tagNames(spki) }) });
  return { inMemory: { ca: gatewayCa.cert, ...cert } };
}

async function forwardRemove(server: TlsInMemory, caller: PeerTls, registry = new Registry()) {
  const harness = await startHarness({ tls: server, peerCa: deployment.ca });
  const forwarder = createPeerForwarder({ ...peerChannel(server, caller), registry });
  try {
    return await forwarder.removeConnection(`127.0.0.1:${harness.running.port}`, { userUid: 'peer-user', exchange: 'binance', keepAggregates: false }, new AbortController().signal);
  } finally {
    forwarder.close();
    await harness.close();
  }
}

test('an instance of the same deployment (another derivation of the same secret) is served', async (t) => {
  const registry = new Registry();
  const reply = await forwardRemove(serverTls(deployment), createPeerTls(Buffer.from(secret), 1), registry);
  t.true(reply.removed);
  t.regex(await registry.metrics(), /enclave_forwarded_requests_total\{method="RemoveConnection",outcome="ok"\} 1/u);
});

test('a caller without the root secret is refused by the server', async (t) => {
  const outsider = createPeerTls(randomBytes(32), 1);
  await t.throwsAsync(forwardRemove(serverTls(deployment), outsider), { instanceOf: PeerUnreachableError });
});

test('nothing is forwarded to a server whose certificate bears no valid peer tag', async (t) => {
  const registry = new Registry();
  const impostor = createPeerTls(randomBytes(32), 1);
  await t.throwsAsync(forwardRemove(serverTls(impostor), deployment, registry), { instanceOf: PeerUntrustedError });
  t.regex(await registry.metrics(), /outcome="untrusted"\} 1/u);
});
