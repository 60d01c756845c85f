// A Koa service limited by slidegate. `createApp` builds it (tests start it in-process);
// server.mjs listens.
import Router from '@koa/router';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { renderMetrics, STATUS_PAGE_HTML, statusReport } from '@slidegate/core';
import { rateLimit } from '@slidegate/koa';
import { ADMIN_LIMIT, adminTokenFromEnv, isAdminRequest } from '../admin-token.mjs';

export { DEFAULT_ADMIN_TOKEN } from '../admin-token.mjs';

/**
 * @param {{ store: import('@slidegate/core').Store, adminToken?: string, limiterOptions?: object }} options
 *   limiterOptions: other RateLimiter options (failureMode, timeoutMs, ...) for both limiters
 */
export function createApp({ store, adminToken = adminTokenFromEnv(), limiterOptions }) {
  // Behind a proxy, set app.proxy = true (and app.maxIpsCount) so ctx.ip is the client, not the proxy.
  const app = new Koa();
  const router = new Router();
  // A registry of this app's own (not prom-client's global one), so two apps in one process do not collide.
  const registry = new Registry();
  const withMetrics = (name) => ({ ...limiterOptions, metrics: { registry, name } });

  // By client IP (IPv6 grouped by /56): 10 requests a minute.
  const publicLimit = rateLimit({ name: 'public', limit: 10, windowSeconds: 60, store, limiterOptions: withMetrics('public') });
  // By API key: 5 requests a minute each, unless the admin route gives a key its own limit.
  const apiKeyLimit = rateLimit({
    name: 'api',
    limit: 5,
    windowSeconds: 60,
    store,
    limiterOptions: withMetrics('api'),
    keyGenerator: (ctx) => ctx.get('x-api-key'),
  });

  router.get('/', publicLimit, (ctx) => {
    ctx.body = { hello: 'world' };
  });

  router.get('/api/data', requireApiKey, apiKeyLimit, (ctx) => {
    ctx.body = { apiKey: ctx.get('x-api-key'), data: [1, 2, 3] };
  });

  // Admin requests by client IP, so a token cannot be guessed by trying.
  const adminLimit = rateLimit({ name: 'admin', ...ADMIN_LIMIT, store });
  router.get('/admin/limits/:key', adminLimit, requireAdmin(adminToken), async (ctx) => {
    ctx.body = { key: ctx.params.key, ...(await apiKeyLimit.getLimit(ctx.params.key)) };
  });

  router.post('/admin/limits/:key', adminLimit, requireAdmin(adminToken), async (ctx) => {
    const { limit, windowSeconds } = await readJson(ctx);
    try {
      await apiKeyLimit.updateLimit(ctx.params.key, limit, windowSeconds);
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
      ctx.status = 400;
      ctx.body = { error: error.message };
      return;
    }
    ctx.body = { key: ctx.params.key, limit, windowSeconds };
  });

  // Operators' routes, not limited. In production, serve them on an internal port or behind your auth. The status
  // page names clients by a hash of their id (API keys are secrets); statusReport(..., { clientIds: 'full' }) shows them.
  router.get('/metrics', async (ctx) => {
    const { contentType, body } = await renderMetrics(registry);
    ctx.type = contentType;
    ctx.body = body;
  });
  router.get('/status', (ctx) => {
    ctx.type = 'html';
    ctx.body = STATUS_PAGE_HTML;
  });
  router.get('/status.json', (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = statusReport([publicLimit.limiter, apiKeyLimit.limiter]);
  });

  app.use(router.routes());
  const close = async () => {
    await Promise.all([publicLimit.close(), apiKeyLimit.close(), adminLimit.close()]);
  };
  return { app, close };
}

async function requireApiKey(ctx, next) {
  if (ctx.get('x-api-key')) return next();
  ctx.status = 401;
  ctx.body = { error: 'send your API key in the x-api-key header' };
}

function requireAdmin(token) {
  return async (ctx, next) => {
    if (isAdminRequest(ctx.get('authorization'), token)) return next();
    ctx.status = 401;
    ctx.body = { error: 'admin routes need Authorization: Bearer <ADMIN_TOKEN>' };
  };
}

/** A small JSON body reader, so the example needs no body-parser package. */
async function readJson(ctx) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 10_000) ctx.throw(413, 'body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') ?? {};
  } catch {
    ctx.throw(400, 'body must be JSON');
  }
}
