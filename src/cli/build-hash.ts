// Prints one line: the hex SHA-256 over the trusted base of the project whose built tree is given
// (default dist/): the build, production node_modules, sql/, package.json, the lockfile and the
// Node binary running this command (see attestation/build-hash.ts).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { computeTrustedBaseHash } from '../attestation/build-hash.js';

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const distRoot = path.resolve(process.argv[2] ?? 'dist');
  computeTrustedBaseHash({ projectRoot: path.dirname(distRoot), distRoot, nodeBinary: process.execPath }).then(
    (hash) => process.stdout.write(`${hash}\n`),
    (error: unknown) => {
      process.stderr.write(`build-hash: cannot hash ${distRoot}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
