// What the HTTP cost is made of: Fastify bare vs slidegate with headers off vs draft-8 headers,
// interleaved rounds in one run (autocannon, 50 connections, 5 s). Run after `npm run build`.
import Fastify from 'fastify';
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
const mode = process.argv[2];
if (mode) {
  const app = Fastify();
  if (mode !== 'bare') {
    const { default: slidegate } = await import('@slidegate/fastify');
    await app.register(slidegate, { limit: 1e12, windowSeconds: 60, headers: mode === 'none' ? false : 'draft-8' });
  }
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send(app.server.address().port);
} else {
  const res = {};
  for (let round = 0; round < 2; round++) for (const m of ['bare', 'none', 'draft-8']) {
    const child = fork(new URL(import.meta.url).pathname, [m]);
    const port = await new Promise((r) => child.once('message', r));
    await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: 1 });
    const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: 5 });
    (res[m] ??= []).push(r.requests.average);
    child.kill();
  }
  const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  for (const m of Object.keys(res)) console.log(m, Math.round(avg(res[m])), (avg(res[m]) / avg(res.bare)).toFixed(2) + 'x');
}
