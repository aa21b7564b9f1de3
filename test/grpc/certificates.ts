// Test-time PKI: a CA and leaf certificates (ECDSA P-256) as PEM, made with the openssl CLI.
// (@peculiar/x509 2.2.0 does not load here: its tsyringe dependency needs reflect-metadata,
// which is not installed.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface TestCa extends Pem {
  issue(commonName: string, use: 'server' | 'client'): Pem;
}

let serial = 1;

function openssl(cwd: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function inScratch<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'pki-'));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function createCa(name: string): TestCa {
  const ca = inScratch((dir) => {
    openssl(dir, ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    return { cert: readFileSync(join(dir, 'ca.pem'), 'utf8'), key: readFileSync(join(dir, 'ca.key'), 'utf8') };
  });
  return {
    ...ca,
    issue(commonName, use) {
      return inScratch((dir) => {
        writeFileSync(join(dir, 'ca.pem'), ca.cert);
        writeFileSync(join(dir, 'ca.key'), ca.key);
        writeFileSync(
          join(dir, 'ext.cnf'),
          [
            'basicConstraints=critical,CA:FALSE',
            'keyUsage=critical,digitalSignature',
            `extendedKeyUsage=${use === 'server' ? 'serverAuth' : 'clientAuth'}`,
            ...(use === 'server' ? ['subjectAltName=IP:127.0.0.1,DNS:localhost'] : []),
            '',
          ].join('\n'),
        );
        openssl(dir, ['req', ...EC, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${commonName}`]);
        openssl(dir, ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial++),
          '-days', '2', '-extfile', 'ext.cnf', '-out', 'leaf.pem']);
        return { cert: readFileSync(join(dir, 'leaf.pem'), 'utf8'), key: readFileSync(join(dir, 'leaf.key'), 'utf8') };
      });
    },
  };
}
