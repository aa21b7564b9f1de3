// Prints one line: the hex SHA-256 over the built tree (default dist/; see attestation/build-hash.ts).
import { pathToFileURL } from 'node:url';
import { computeBuildHash } from '../attestation/build-hash.js';

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = process.argv[2] ?? 'dist';
  computeBuildHash(root).then(
    (hash) => process.stdout.write(`${hash}\n`),
    (error: unknown) => {
      process.stderr.write(`build-hash: cannot hash ${root}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
