// One instance of the service that test/cluster-store-pm2.test.ts runs in PM2's cluster mode: an HTTP server
// (PM2's daemon, the node:cluster primary, shares its port among the instances) whose every request checks one
// hot client through `new ClusterStore({ path })` on the BUILT @slidegate/core, and answers with the decision.
// CommonJS, as PM2's cluster mode loads it. Env: PORT, SLIDEGATE_SOCKET, LIMIT.
const http = require('node:http');
const { ClusterStore, RateLimiter } = require('@slidegate/core');

const store = new ClusterStore({ path: process.env.SLIDEGATE_SOCKET });
const limiter = new RateLimiter({
  limit: Number(process.env.LIMIT),
  windowSeconds: 1,
  store,
  // A fallback decision admits nothing, so every admitted request was decided by the shared server.
  failureMode: 'closed',
  timeoutMs: 1000,
});
const instance = process.env.NODE_APP_INSTANCE;

http
  .createServer((req, res) => {
    res.setHeader('connection', 'close');
    if (req.url === '/ready') {
      res.end(JSON.stringify({ instance, served: store.served }));
      return;
    }
    limiter.check('hot').then(
      (d) => res.end(JSON.stringify({ instance, allowed: d.allowed, source: d.source, at: Math.round(d.timestamp * 1000) })),
      (error) => {
        res.statusCode = 500;
        res.end(String(error));
      },
    );
  })
  .listen(Number(process.env.PORT));
