// A Hono service limited by slidegate. `createApp` builds it (tests serve it in-process through
// @hono/node-server); server.mjs listens.
import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { renderMetrics, STATUS_PAGE_HTML, statusReport } from '@slidegate/core';
import { rateLimit } from '@slidegate/hono';
import { ADMIN_LIMIT, adminTokenFromEnv, isAdminRequest } from '../admin-token.mjs';

export { DEFAULT_ADMIN_TOKEN } from '../admin-token.mjs';

/**
 * @param {{ store: import('@slidegate/core').Store, adminToken?: string, limiterOptions?: object }} options
 *   adminToken: default ADMIN_TOKEN (see adminTokenFromEnv: required in production)
 *   limiterOptions: other RateLimiter options (failureMode, timeoutMs, ...) for both limiters
 */
export function createApp({ store, adminToken = adminTokenFromEnv(), limiterOptions }) {
  const app = new Hono();
  // A registry of this app's own (not prom-client's global one), so two apps in one process do not collide.
  const registry = new Registry();
  const withMetrics = (name) => ({ ...limiterOptions, metrics: { registry, name } });

  // By client IP (IPv6 grouped by /56): 10 requests a minute. Behind a proxy, add trustProxy: its
  // addresses (e.g. '10.0.0.0/8') or the number of proxies, so the client is not the proxy.
  const publicLimit = rateLimit({ name: 'public', limit: 10, windowSeconds: 60, store, limiterOptions: withMetrics('public') });
  // By API key: 5 requests a minute each, unless the admin route gives a key its own limit.
  const apiKeyLimit = rateLimit({
    name: 'api',
    limit: 5,
    windowSeconds: 60,
    store,
    limiterOptions: withMetrics('api'),
    keyGenerator: (c) => c.req.header('x-api-key'),
  });

  app.get('/', publicLimit, (c) => c.json({ hello: 'world' }));

  app.get('/api/data', requireApiKey, apiKeyLimit, (c) => c.json({ apiKey: c.req.header('x-api-key'), data: [1, 2, 3], remaining: c.get('rateLimit').decision.remaining }));

  // Admin requests by client IP, so a token cannot be guessed by trying.
  const adminLimit = rateLimit({ name: 'admin', ...ADMIN_LIMIT, store });
  app.get('/admin/limits/:key', adminLimit, requireAdmin(adminToken), async (c) => c.json({ key: c.req.param('key'), ...(await apiKeyLimit.getLimit(c.req.param('key'))) }));

  app.post('/admin/limits/:key', adminLimit, requireAdmin(adminToken), async (c) => {
    const { limit, windowSeconds } = await c.req.json().catch(() => ({}));
    try {
      await apiKeyLimit.updateLimit(c.req.param('key'), limit, windowSeconds);
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
      return c.json({ error: error.message }, 400);
    }
    return c.json({ key: c.req.param('key'), limit, windowSeconds });
  });

  // Operators' routes, not limited. In production, serve them on an internal port or behind your auth. The status
  // page names clients by a hash of their id (API keys are secrets); statusReport(..., { clientIds: 'full' }) shows them.
  app.get('/metrics', async (c) => {
    const { contentType, body } = await renderMetrics(registry);
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.get('/status', (c) => c.html(STATUS_PAGE_HTML));
  app.get('/status.json', (c) => {
    c.header('cache-control', 'no-store');
    return c.json(statusReport([publicLimit.limiter, apiKeyLimit.limiter]));
  });

  const close = async () => {
    await Promise.all([publicLimit.close(), apiKeyLimit.close(), adminLimit.close()]);
  };
  return { app, close };
}

async function requireApiKey(c, next) {
  if (c.req.header('x-api-key')) return next();
  return c.json({ error: 'send your API key in the x-api-key header' }, 401);
}

function requireAdmin(token) {
  return async (c, next) => {
    if (isAdminRequest(c.req.header('authorization'), token)) return next();
    return c.json({ error: 'admin routes need Authorization: Bearer <ADMIN_TOKEN>' }, 401);
  };
}
