// `node dist/cli/rotate-keys.js`: re-seals every stored credential envelope with the newest key
// (ENCRYPTION_KEY / ENCRYPTION_KEY_ID), opening old ones with ENCRYPTION_KEYS. Prints counts
// and the ids of accounts whose envelope no configured key opens; exits 1 if there are any.
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { keyringFromConfig } from '../crypto/keyring.js';
import { rotateEnvelopes } from '../crypto/rotate.js';
import { openStorage } from '../storage/open-storage.js';

async function main(): Promise<number> {
  let config;
  let keyring;
  try {
    config = loadConfig();
    keyring = keyringFromConfig(config);
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError || error instanceof Error ? error.message : 'invalid configuration'}\n`);
    return 2;
  }
  const logger = createLogger(config.LOG_LEVEL);
  const storage = await openStorage(config, logger);
  try {
    const report = await rotateEnvelopes(storage.connections, keyring);
    logger.info({ keyId: keyring.current.id, rotated: report.rotated, current: report.current, raced: report.raced, failed: report.failed.length }, 'key rotation done');
    for (const account of report.failed) logger.error({ account }, 'envelope could not be opened with any configured key');
    return report.failed.length === 0 ? 0 : 1;
  } finally {
    await storage.close();
  }
}

process.exitCode = await main();
