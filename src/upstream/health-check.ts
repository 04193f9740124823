import type { HealthCheckConfig } from '../config/types.js';
import type { Target } from './target.js';

/**
 * Active health checks: every `intervalMs`, a GET of `path` on each target
 * through its own pool. A 2xx or 3xx within `timeoutMs` is a pass. After
 * `unhealthyAfter` consecutive failures a target stops taking requests, after
 * `healthyAfter` consecutive passes it takes them again. Targets start
 * healthy, so a gateway serves at once after a start or reload; the first
 * checks run immediately. Returns the function that stops the checks.
 */
export function startHealthChecks(targets: readonly Target[], config: HealthCheckConfig): () => void {
  const stops = targets.map((target) => checkOne(target, config));
  return () => {
    for (const stop of stops) stop();
  };
}

function checkOne(target: Target, config: HealthCheckConfig): () => void {
  let passes = 0;
  let failures = 0;
  let stopped = false;
  let running: AbortController | undefined;

  const record = (passed: boolean): void => {
    if (stopped) return;
    if (passed) {
      failures = 0;
      passes++;
      if (passes >= config.healthyAfter) target.setHealthy(true);
    } else {
      passes = 0;
      failures++;
      if (failures >= config.unhealthyAfter) target.setHealthy(false);
    }
  };

  const probe = (): void => {
    if (running !== undefined) return; // the previous probe has not timed out yet
    const controller = new AbortController();
    running = controller;
    const timer = setTimeout(() => controller.abort(), config.timeoutMs);
    target.pool
      .request({ method: 'GET', path: config.path, signal: controller.signal, headersTimeout: config.timeoutMs, bodyTimeout: config.timeoutMs })
      .then(async (res) => {
        await res.body.dump();
        return res.statusCode >= 200 && res.statusCode < 400;
      })
      .catch(() => false)
      .then((passed) => {
        clearTimeout(timer);
        running = undefined;
        record(passed);
      });
  };

  probe();
  const interval = setInterval(probe, config.intervalMs);
  interval.unref();
  return () => {
    stopped = true;
    clearInterval(interval);
    running?.abort();
  };
}
