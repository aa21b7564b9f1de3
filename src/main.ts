// The process entry point, not a composition root: configuration, then startService (the one
// composition root, src/app/service.ts), then the demo when
// it applies. SIGTERM/SIGINT drain and exit 0; a bad configuration exits 2 before anything starts.
import { ConfigError } from './config/errors.js';
import { demoEnabled, loadConfig, type Config } from './config/config.js';
import { createLogger } from './config/logger.js';
import { runDemo } from './app/demo.js';
import { startService } from './app/service.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const logger = createLogger(config.LOG_LEVEL);
// Our error families carry no secrets in their messages; anything else is reported by class only.
const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : 'unknown failure');

const service = await startService(config, logger).catch((error: unknown) => {
  logger.fatal({ error: describe(error) }, 'start-up failed');
  process.exit(1);
});

let exiting = false;
const shutdown = (signal: string): void => {
  if (exiting) return;
  exiting = true;
  logger.info({ signal }, 'shutting down');
  // A hard bound: past the grace period plus a margin, exit non-zero rather than hang.
  setTimeout(() => {
    logger.error('shutdown exceeded its bound');
    process.exit(1);
  }, config.SHUTDOWN_GRACE_MS + 5_000).unref();
  service.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ error: describe(error) }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

if (demoEnabled(config)) {
  await runDemo(service, logger, (text) => process.stdout.write(text)).catch((error: unknown) => {
    logger.error({ error: describe(error) }, 'demo failed');
  });
}
