/**
 * Fastify alone: the service's own MySQL store behind the same two routes, with none of the service's
 * plugins (no request log, metrics, validation, write limit, security headers or OpenAPI document).
 * Not a target: beside the baseline it splits the service's cost into the framework's and the
 * features'. Started by run.ts, bundled as the service is.
 */
import Fastify from 'fastify';
import { loadConfig } from '../service/src/config';
import { createStore } from '../service/src/stores';

const PAGE = 50;

async function main(): Promise<void> {
  const store = await createStore(loadConfig());
  await store.connect();
  const app = Fastify({ logger: false });
  app.get('/messages', async () => (await store.listMessages({ limit: PAGE })).items);
  app.post('/messages', async (request, reply) => {
    const created = await store.addMessage((request.body as { message: string }).message, new Date());
    return reply.code(201).send(created);
  });
  await app.listen({ port: Number(process.env.PORT ?? 5003), host: '127.0.0.1' });
  process.on('SIGTERM', () => {
    void app
      .close()
      .then(() => store.close())
      .then(() => process.exit(0));
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
