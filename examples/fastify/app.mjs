// A Fastify service limited by slidegate. `createApp` builds it (tests start it in-process);
// server.mjs listens.
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { RateLimiter, renderMetrics, STATUS_PAGE_HTML, statusReport, storeKey } from '@slidegate/core';
import slidegate from '@slidegate/fastify';
import { ADMIN_LIMIT, adminTokenFromEnv, isAdminRequest } from '../admin-token.mjs';

export { DEFAULT_ADMIN_TOKEN } from '../admin-token.mjs';

/**
 * @param {{ store: import('@slidegate/core').Store, adminToken?: string, limiterOptions?: object }} options
 *   limiterOptions: other RateLimiter options (failureMode, timeoutMs, ...) for both limiters
 */
export async function createApp({ store, adminToken = adminTokenFromEnv(), limiterOptions }) {
  // Behind a proxy, pass trustProxy: '<the proxy addresses or CIDR>' so request.ip is the client.
  const app = Fastify();
  // A registry of this app's own (not prom-client's global one), so two apps in one process do not collide.
  const registry = new Registry();
  const withMetrics = (name) => ({ ...limiterOptions, metrics: { registry, name } });
  // Both limiters are made here: the admin route changes the API keys' limits, and the status page reads both.
  const publicLimiter = new RateLimiter({ ...withMetrics('public'), limit: 10, windowSeconds: 60, store });
  const apiKeyLimiter = new RateLimiter({ ...withMetrics('api'), limit: 5, windowSeconds: 60, store });
  // The store key of an API key under the route limiter named 'api' (its prefix is 'api:').
  const apiKey = (key) => storeKey('api:', key);

  // Every route: by client IP (IPv6 grouped by /56), 10 requests a minute, unless the route says otherwise.
  await app.register(slidegate, { name: 'public', limiter: publicLimiter });

  app.get('/', async () => ({ hello: 'world' }));

  app.get(
    '/api/data',
    {
      // Runs before the limit check, which the plugin adds after the route's own onRequest hooks.
      onRequest: requireApiKey,
      // By API key: 5 requests a minute each, unless the admin route gives a key its own limit.
      config: { rateLimit: { limiter: apiKeyLimiter, name: 'api', keyGenerator: (req) => req.headers['x-api-key'] } },
    },
    async (req) => ({ apiKey: req.headers['x-api-key'], data: [1, 2, 3] }),
  );

  // Admin requests by client IP (both admin routes share one budget), so a token cannot be guessed by trying.
  const adminLimiter = new RateLimiter({ ...ADMIN_LIMIT, store });
  const admin = { preHandler: requireAdmin(adminToken), config: { rateLimit: { limiter: adminLimiter, name: 'admin' } } };
  app.get('/admin/limits/:key', admin, async (req) => ({
    key: req.params.key,
    ...(await apiKeyLimiter.getLimit(apiKey(req.params.key))),
  }));

  app.post('/admin/limits/:key', admin, async (req, reply) => {
    const { limit, windowSeconds } = req.body ?? {};
    try {
      await apiKeyLimiter.updateLimit(apiKey(req.params.key), limit, windowSeconds);
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
      return reply.code(400).send({ error: error.message });
    }
    return { key: req.params.key, limit, windowSeconds };
  });

  // Operators' routes, not limited. In production, serve them on an internal port or behind your auth. The status
  // page names clients by a hash of their id (API keys are secrets); statusReport(..., { clientIds: 'full' }) shows them.
  const unlimited = { config: { rateLimit: false } };
  app.get('/metrics', unlimited, async (_req, reply) => {
    const { contentType, body } = await renderMetrics(registry);
    return reply.type(contentType).send(body);
  });
  app.get('/status', unlimited, async (_req, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE_HTML));
  app.get('/status.json', unlimited, async (_req, reply) => reply.header('cache-control', 'no-store').send(statusReport([publicLimiter, apiKeyLimiter])));

  app.addHook('onClose', async () => {
    await Promise.all([publicLimiter.close(), apiKeyLimiter.close(), adminLimiter.close()]);
  });
  return { app, close: () => app.close() };
}

async function requireApiKey(req, reply) {
  if (!req.headers['x-api-key']) return reply.code(401).send({ error: 'send your API key in the x-api-key header' });
}

function requireAdmin(token) {
  return async (req, reply) => {
    if (!isAdminRequest(req.headers.authorization, token)) {
      return reply.code(401).send({ error: 'admin routes need Authorization: Bearer <ADMIN_TOKEN>' });
    }
  };
}
