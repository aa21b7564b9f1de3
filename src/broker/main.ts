#!/usr/bin/env node
// enclave-broker: the development key broker and its helpers.
//   serve --policy FILE [--host H] [--port P] [--tls-cert PEM --tls-key PEM | --self-signed] [--anchors FILE]
//       runs the broker (Trustee KBS endpoints); prints its URL and certificate fingerprint;
//       --anchors keeps the rollback anchors in FILE (docs/sealed-storage.md)
//   host-data
//       the HOST_DATA (hex) of the configuration in this environment (same variables as the
//       service): launch the VM with it and put it in the broker policy
//   new-secret --out FILE
//       writes a fresh root-secret resource ({"version":1,"current":1,"keys":{"1":…}}), mode 0600
// Run built: node dist/broker/main.js …, or from sources: node --import tsx src/broker/main.ts …
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { CODE_CHANGING_VARIABLES } from '../config/enclave-process.js';
import { createLogger } from '../config/logger.js';
import { measuredConfiguration } from '../config/measured-config.js';
import { encodeReleasedSecrets } from '../crypto/key-hierarchy.js';
import { createSelfSignedCertificate } from '../crypto/self-signed-certificate.js';
import { BrokerError } from './errors.js';
import { loadBrokerPolicy } from './policy.js';
import { startKeyBroker } from './server.js';

export const USAGE = `usage: enclave-broker serve --policy FILE [--host H] [--port P] [--tls-cert PEM --tls-key PEM | --self-signed] [--anchors FILE]
       enclave-broker host-data        (reads the service's environment variables)
       enclave-broker new-secret --out FILE`;

export interface BrokerCliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

class UsageError extends Error {}

/** host-data and new-secret; returns the exit code. `serve` is run by runBrokerServe (it does not return). */
export function runBrokerCommand(argv: readonly string[], io: BrokerCliIo): number {
  const [command, ...rest] = argv;
  try {
    if (command === 'host-data') {
      // The service's settings from this environment; this process's own node variables and flags
      // are not the service's (the image fixes those), so they are left out of the check.
      const settings = Object.fromEntries(Object.entries(io.env).filter(([name]) => !(CODE_CHANGING_VARIABLES as readonly string[]).includes(name)));
      const config = loadConfig(settings, []);
      const ca = config.TLS_CA_FILE === undefined ? null : readFileSync(config.TLS_CA_FILE);
      const measured = measuredConfiguration(config, ca);
      io.out(measured.hostData.toString('hex'));
      io.err(measured.text);
      return 0;
    }
    if (command === 'new-secret') {
      const { values } = parseArgs({ args: rest, options: { out: { type: 'string' } }, strict: true });
      if (values.out === undefined) throw new UsageError('--out is required');
      const secret = randomBytes(32);
      try {
        writeFileSync(values.out, encodeReleasedSecrets({ currentId: 1, secrets: new Map([[1, secret]]) }), { mode: 0o600, flag: 'wx' });
      } catch {
        throw new BrokerError(`cannot create ${values.out} (it may exist: a secret is never overwritten)`);
      } finally {
        secret.fill(0);
      }
      io.out(`wrote ${values.out}`);
      return 0;
    }
    throw new UsageError(command === undefined ? 'a command is required' : `unknown command ${command}`);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof BrokerError || error instanceof UsageError) {
      io.err(`enclave-broker: ${error.message}`);
      if (error instanceof UsageError) io.err(USAGE);
      return 2;
    }
    throw error;
  }
}

async function serve(argv: readonly string[], io: BrokerCliIo): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      policy: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'self-signed': { type: 'boolean' },
      anchors: { type: 'string' },
    },
  });
  if (values.policy === undefined) throw new UsageError('--policy is required');
  const tls =
    values['tls-cert'] !== undefined && values['tls-key'] !== undefined
      ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) }
      : values['self-signed'] === true
        ? createSelfSignedCertificate({ names: [values.host, 'localhost'], commonName: 'enclave-broker' })
        : undefined;
  const broker = await startKeyBroker({
    policy: loadBrokerPolicy(values.policy),
    host: values.host,
    port: Number(values.port),
    logger: createLogger(io.env.LOG_LEVEL ?? 'info'),
    ...(tls === undefined ? {} : { tls }),
    ...(values.anchors === undefined ? {} : { anchorFile: values.anchors }),
  });
  io.out(`enclave-broker listening on ${broker.url}${broker.certSha256 === null ? ' (plain HTTP: development only)' : `\nKEY_BROKER_CERT_SHA256=${broker.certSha256}`}`);
  const stop = (): void => void broker.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const io: BrokerCliIo = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`), env: process.env };
  const argv = process.argv.slice(2);
  if (argv[0] === 'serve') {
    serve(argv.slice(1), io).catch((error: unknown) => {
      io.err(`enclave-broker: ${error instanceof Error ? error.message : 'failed'}`);
      process.exit(2);
    });
  } else process.exitCode = runBrokerCommand(argv, io);
}
