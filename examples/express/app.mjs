// An Express service limited by slidegate. `createApp` builds it (tests start it in-process);
// server.mjs listens.
import express from 'express';
import { Registry } from 'prom-client';
import { renderMetrics, STATUS_PAGE_HTML, statusReport } from '@slidegate/core';
import { rateLimit } from '@slidegate/express';
import { ADMIN_LIMIT, adminTokenFromEnv, isAdminRequest } from '../admin-token.mjs';

export { DEFAULT_ADMIN_TOKEN } from '../admin-token.mjs';

/**
 * @param {{ store: import('@slidegate/core').Store, adminToken?: string, limiterOptions?: object }} options
 *   adminToken: default ADMIN_TOKEN (see adminTokenFromEnv: required in production)
 *   limiterOptions: other RateLimiter options (failureMode, timeoutMs, ...) for both limiters
 */
export function createApp({ store, adminToken = adminTokenFromEnv(), limiterOptions }) {
  const app = express();
  // A registry of this app's own (not prom-client's global one), so two apps in one process do not collide.
  const registry = new Registry();
  const withMetrics = (name) => ({ ...limiterOptions, metrics: { registry, name } });

  // By client IP (IPv6 grouped by /56): 10 requests a minute. Behind a proxy, also set
  // app.set('trust proxy', <the proxy's addresses>) so req.ip is the client, not the proxy.
  const publicLimit = rateLimit({ name: 'public', limit: 10, windowSeconds: 60, store, limiterOptions: withMetrics('public') });
  // By API key: 5 requests a minute each, unless the admin route gives a key its own limit.
  const apiKeyLimit = rateLimit({
    name: 'api',
    limit: 5,
    windowSeconds: 60,
    store,
    limiterOptions: withMetrics('api'),
    keyGenerator: (req) => req.get('x-api-key'),
  });
  // Admin requests by client IP, so a token cannot be guessed by trying.
  const adminLimit = rateLimit({ name: 'admin', ...ADMIN_LIMIT, store });
  const admin = [adminLimit, requireAdmin(adminToken)];

  app.get('/', publicLimit, (_req, res) => {
    res.json({ hello: 'world' });
  });

  app.get('/api/data', requireApiKey, apiKeyLimit, (req, res) => {
    res.json({ apiKey: req.get('x-api-key'), data: [1, 2, 3] });
  });

  app.get('/admin/limits/:key', admin, async (req, res) => {
    res.json({ key: req.params.key, ...(await apiKeyLimit.getLimit(req.params.key)) });
  });

  app.post('/admin/limits/:key', admin, express.json(), async (req, res) => {
    const { limit, windowSeconds } = req.body ?? {};
    try {
      await apiKeyLimit.updateLimit(req.params.key, limit, windowSeconds);
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) return void res.status(400).json({ error: error.message });
      throw error;
    }
    res.json({ key: req.params.key, limit, windowSeconds });
  });

  // Operators' routes, not limited. In production, serve them on an internal port or behind your auth. The status
  // page names clients by a hash of their id (API keys are secrets); statusReport(..., { clientIds: 'full' }) shows them.
  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await renderMetrics(registry);
    res.type(contentType).send(body);
  });
  app.get('/status', (_req, res) => {
    res.type('html').send(STATUS_PAGE_HTML);
  });
  app.get('/status.json', (_req, res) => {
    res.set('cache-control', 'no-store').json(statusReport([publicLimit.limiter, apiKeyLimit.limiter]));
  });

  const close = async () => {
    await Promise.all([publicLimit.close(), apiKeyLimit.close(), adminLimit.close()]);
  };
  return { app, close };
}

function requireApiKey(req, res, next) {
  if (req.get('x-api-key')) return next();
  res.status(401).json({ error: 'send your API key in the x-api-key header' });
}

function requireAdmin(token) {
  return (req, res, next) => {
    if (isAdminRequest(req.get('authorization'), token)) return next();
    res.status(401).json({ error: 'admin routes need Authorization: Bearer <ADMIN_TOKEN>' });
  };
}
