// A key broker and an "SEV-SNP guest" wired for tests: a fake configfs-tsm whose reports are
// signed by the test AMD chain's VCEK and carry a chosen HOST_DATA, and the development broker
// serving HTTPS (in-memory certificate) with a policy that trusts the test chain.
import { randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { brokerPolicyFrom, type PolicyFile } from '../../src/broker/policy.js';
import { startKeyBroker, type RunningKeyBroker } from '../../src/broker/server.js';
import { encodeReleasedSecrets } from '../../src/crypto/key-hierarchy.js';
import { createSelfSignedCertificate } from '../../src/crypto/self-signed-certificate.js';
import { startFakeConfigfs, type FakeConfigfs } from './fake-configfs.js';
import { TEST_MEASUREMENT, type SyntheticReportFields } from './synthetic-report.js';
import { testAmdChain, type TestAmdChain } from './test-amd-chain.js';

export const RESOURCE_PATH = 'track-record/enclave/root-secrets';

export interface TestBroker {
  readonly broker: RunningKeyBroker;
  readonly chain: TestAmdChain;
  /** The root secret the broker releases. */
  readonly rootSecret: Buffer;
  close(): Promise<void>;
}

/** Where the broker will listen and the certificate it will serve, known before it starts. */
export interface BrokerAddress {
  readonly url: string;
  readonly certSha256: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A broker whose policy approves TEST_MEASUREMENT with `hostData`. HOST_DATA may depend on the
 * broker's own address and certificate (they are part of the measured configuration): pass a
 * function of them.
 */
export async function startTestBroker(hostData: Buffer | ((address: BrokerAddress) => Buffer), policy: Partial<PolicyFile> = {}, options: { readonly anchorFile?: string } = {}): Promise<TestBroker> {
  const tls = createSelfSignedCertificate({ names: ['127.0.0.1'] });
  const port = await freePort();
  const address = { url: `https://127.0.0.1:${port}`, certSha256: new X509Certificate(tls.cert).fingerprint256.replaceAll(':', '').toLowerCase() };
  const approved = typeof hostData === 'function' ? hostData(address) : hostData;
  const chain = await testAmdChain();
  const rootSecret = randomBytes(32);
  const files: Record<string, Buffer> = {
    'vcek.pem': Buffer.from(chain.vcek.toString()),
    'cert_chain.pem': Buffer.from(`${chain.ask.toString()}${chain.ark.toString()}`),
    'root-secrets.json': encodeReleasedSecrets({ currentId: 1, secrets: new Map([[1, Buffer.from(rootSecret)]]) }),
  };
  const parsed = brokerPolicyFrom(
    {
      measurements: [TEST_MEASUREMENT.toString('hex')],
      hostData: approved.toString('hex'),
      minimumTcb: { bootLoader: 3, tee: 0, snp: 8, microcode: 115 },
      endorsements: { vcek: 'vcek.pem', certChain: 'cert_chain.pem' },
      trustedArkSha256: [chain.ark.fingerprint256],
      resources: { [RESOURCE_PATH]: 'root-secrets.json' },
      ...policy,
    },
    (name) => {
      const content = files[name];
      if (content === undefined) throw new Error(`no test file ${name}`);
      return content;
    },
  );
  const broker = await startKeyBroker({ policy: parsed, tls, port, ...(options.anchorFile === undefined ? {} : { anchorFile: options.anchorFile }) });
  return { broker, chain, rootSecret, close: () => broker.close() };
}

/**
 * A guest: configfs-tsm signing with the test VCEK, reporting `fields` (HOST_DATA etc.). The
 * object is used as given, so a field set later (HOST_DATA once the broker's address is known)
 * appears in the next report.
 */
export async function startTestGuest(chain: TestAmdChain, fields: Omit<SyntheticReportFields, 'reportData' | 'signingKey'>): Promise<FakeConfigfs> {
  const report: SyntheticReportFields = Object.assign(fields, { signingKey: chain.vcekPrivateKey });
  return startFakeConfigfs({ report });
}
