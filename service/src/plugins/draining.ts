import fp from 'fastify-plugin';

/**
 * Draining: from `close()` (or `readiness.draining` set on a signal) /ready answers 503 and every
 * response closes its connection, so keep-alive clients reconnect elsewhere and the server's close is
 * not held up by idle connections until their keep-alive timeout.
 */
export const drainingPlugin = fp(
  async (app) => {
    app.addHook('preClose', async () => {
      app.readiness.draining = true;
    });
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (app.readiness.draining) reply.header('connection', 'close');
      done(null, payload);
    });
  },
  { name: 'draining', dependencies: ['store'] },
);
