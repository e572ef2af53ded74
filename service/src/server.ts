import closeWithGrace from 'close-with-grace';
import { buildApp } from './app';
import { ConfigError, loadConfig } from './config';
import { buildMetricsApp } from './metrics-app';
import { readinessDetail } from './routes/health';

/** How long in-flight requests may take to finish after SIGTERM; Kubernetes' grace period is longer. */
const DRAIN_MS = 10_000;
/**
 * After SIGTERM and before the listener closes: /ready answers 503 and every response closes its
 * connection, so keep-alive clients leave after their answer instead of being cut off while idle.
 */
const DRAIN_DELAY_MS = 1_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await buildApp({ config });
  const metrics = await buildMetricsApp({
    registry: app.metrics.registry,
    logger: app.log,
    readiness: () => readinessDetail(app),
  });
  closeWithGrace({ delay: DRAIN_MS, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'draining: refusing new connections, finishing requests in flight');
    app.readiness.draining = true;
    if (!err) await new Promise((resolve) => setTimeout(resolve, DRAIN_DELAY_MS));
    await app.close();
    await metrics.close();
    app.log.info('stopped');
  });
  await app.listen({ host: config.HOST, port: config.PORT });
  await metrics.listen({ host: config.HOST, port: config.METRICS_PORT });
}

main().catch((error: unknown) => {
  const line = error instanceof ConfigError ? error.message : `failed to start: ${(error as Error).message}`;
  process.stderr.write(`${line}\n`);
  process.exit(1);
});
