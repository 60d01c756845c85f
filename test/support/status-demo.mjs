// A small HTTP service for the status page: a limited route, GET /status, GET /status.json and
// GET /metrics on node:http, plus a traffic generator. The service is used by
// scripts/screenshot-status.mjs; the traffic generator also by test/status-page.test.ts, which drives
// the Express example (not a test file itself).
import { createServer, request } from 'node:http';
import { once } from 'node:events';
import { Registry } from 'prom-client';
import { RateLimiter, STATUS_PAGE_HTML, renderMetrics, statusReport } from '@slidegate/core';

/**
 * Starts the service on a free port. `adaptiveSignal` (optional) drives the adaptive factor.
 * @param {{ adaptiveSignal?: () => number, adaptiveIntervalMs?: number }} [options]
 */
export async function startStatusDemo(options = {}) {
  const registry = new Registry();
  const adaptive = options.adaptiveSignal === undefined
    ? undefined
    : { signal: options.adaptiveSignal, target: 50, intervalMs: options.adaptiveIntervalMs ?? 1000, scope: 'instance' };
  const api = new RateLimiter({ limit: 60, windowSeconds: 60, metrics: { registry, name: 'api' }, adaptive });
  const server = createServer((req, res) => {
    void route(req, res).catch((error) => {
      res.writeHead(500).end(String(error));
    });
  });
  async function route(req, res) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/status') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(STATUS_PAGE_HTML);
    } else if (url.pathname === '/status.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(statusReport([api])));
    } else if (url.pathname === '/metrics') {
      const { contentType, body } = await renderMetrics(registry);
      res.writeHead(200, { 'content-type': contentType }).end(body);
    } else if (url.pathname === '/api') {
      const client = String(req.headers['x-api-key'] ?? 'anonymous');
      const decision = await api.check(client);
      res.writeHead(decision.allowed ? 200 : 429, { 'retry-after': String(decision.retryAfter) }).end();
    } else {
      res.writeHead(404).end();
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    limiter: api,
    registry,
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      await api.close();
    },
  };
}

/** One GET `path` as `client` (its x-api-key); resolves with the status code. */
function hit(port, path, client) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { 'x-api-key': client } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends traffic to GET `path` (default '/api', the demo's route) until `stop()`: every `everyMs`,
 * `perTick(tick)` requests spread over a few clients (the x-api-key header), one of them
 * ('client-noisy') far over its limit. Returns counts of 200 and 429 answers.
 * @param {number} port
 * @param {{ path?: string, everyMs?: number, perTick?: (tick: number) => number, maxTicks?: number }} [options]
 */
export function runTraffic(port, options = {}) {
  const path = options.path ?? '/api';
  const everyMs = options.everyMs ?? 50;
  const perTick = options.perTick ?? (() => 12);
  const maxTicks = options.maxTicks ?? 100_000;
  const counts = { ok: 0, limited: 0, failed: 0 };
  let tick = 0;
  let stopped = false;
  let inFlight = Promise.resolve();
  const clients = ['client-noisy', 'client-noisy', 'client-noisy', 'client-b', 'client-c', 'client-d'];
  const timer = setInterval(() => {
    if (stopped || ++tick > maxTicks) return;
    const n = perTick(tick);
    const batch = [];
    for (let i = 0; i < n; i++) {
      const client = i % 4 === 3 ? `client-${tick % 50}-${i}` : clients[(tick + i) % clients.length];
      batch.push(hit(port, path, client).then((status) => void (status === 200 ? counts.ok++ : counts.limited++), () => void counts.failed++));
    }
    inFlight = Promise.all([inFlight, ...batch]).then(() => undefined);
  }, everyMs);
  return {
    counts,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}
