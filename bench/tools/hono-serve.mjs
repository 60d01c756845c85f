// A Hono server on @hono/node-server that answers GET / with a small JSON body and exits after a given number of
// responses, so a real server's instructions a request can be counted under callgrind whatever the machine's load
// (socket, HTTP parser and Node's response code included; the kernel is not counted). Variants as the http suite's:
// `none`, `slidegate` (@slidegate/hono, defaults) and `peer` (hono-rate-limiter, defaults), limit 1e9 per 60 s.
// Count two runs with different numbers of requests and subtract, e.g.
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out node bench/tools/hono-serve.mjs slidegate 3000 2000 &
//   npx autocannon -c 8 -a 2000 http://127.0.0.1:3000/      (once it prints 'ready'; then 8000 with a /tmp/b.out run)
// and (summary of b - summary of a) / 6000 (`grep summary: /tmp/?.out`). Run after `npm run build`.
//
//   node bench/tools/hono-serve.mjs VARIANT PORT RESPONSES
import { Hono } from 'hono';
import { serve } from '@hono/node-server';

const [variant = 'slidegate', port = '3000', responses = '2000'] = process.argv.slice(2);
const app = new Hono();
if (variant === 'slidegate') {
  const { rateLimit } = await import('@slidegate/hono');
  app.use(rateLimit({ limit: 1e9, windowSeconds: 60 }));
} else if (variant === 'peer') {
  const { rateLimiter } = await import('hono-rate-limiter');
  app.use(rateLimiter({ windowMs: 60_000, limit: 1e9, keyGenerator: (c) => c.env.incoming.socket.remoteAddress }));
} else if (variant !== 'none') {
  throw new Error(`unknown variant ${variant}: none, slidegate or peer`);
}
app.get('/', (c) => c.json({ ok: true }));
let answered = 0;
const server = serve({ fetch: app.fetch, port: Number(port), hostname: '127.0.0.1' }, () => console.log('ready'));
server.on('request', (req, res) => {
  res.on('finish', () => {
    if (++answered === Number(responses)) setImmediate(() => process.exit(0));
  });
});
