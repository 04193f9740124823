import type { Gateway } from './server.js';
import type { Logger } from './observability/logging.js';

/**
 * SIGTERM / SIGINT: stop accepting, let in-flight requests finish for up to
 * `graceMs`, then cut what is left and exit 0. A second signal exits at once.
 */
export function closeOnSignals(gateway: Gateway, logger: Logger, graceMs: number, beforeClose: () => void = () => {}): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    beforeClose();
    logger.info({ signal, grace_ms: graceMs }, 'shutting down: draining in-flight requests');
    const cut = setTimeout(() => {
      logger.warn('grace period over: closing remaining connections');
      gateway.server.closeAllConnections();
    }, graceMs);
    cut.unref();
    gateway.close().then(
      () => {
        logger.info('shutdown complete');
        logger.flush(() => process.exit(0));
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
