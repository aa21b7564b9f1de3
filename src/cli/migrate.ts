// `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database
// in EMBEDDED_DB_DIR when DATABASE_URL is unset. Exits non-zero on any problem.
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../storage/embedded.js';
import { migrate } from '../storage/migrate.js';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL);
  let embedded: EmbeddedDatabase | null = null;
  try {
    if (config.DATABASE_URL === undefined) embedded = await startEmbeddedDatabase(config.EMBEDDED_DB_DIR);
    const { applied } = await migrate(config.DATABASE_URL ?? embedded!.url, logger);
    logger.info({ applied: applied.length, embedded: embedded !== null }, 'migrations done');
    return 0;
  } catch (error) {
    // Storage errors carry only migration names and SQLSTATEs; their causes are not logged.
    logger.error({ err: { name: (error as Error).name, message: (error as Error).message } }, 'migration failed');
    return 1;
  } finally {
    await embedded?.stop();
  }
}

process.exitCode = await main();
