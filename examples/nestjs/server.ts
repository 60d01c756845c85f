// Starts the NestJS example: PORT (default 3000), REDIS_URL (optional), ADMIN_TOKEN (optional).
// From the repository root: npm run build && npm start -w examples/nestjs (tsx, with this folder's tsconfig.json)
import { fileURLToPath } from 'node:url';
import { createApp, DEFAULT_ADMIN_TOKEN } from './app';
// @ts-expect-error: plain ESM JavaScript without type declarations, shared with the other examples.
import { storeFromEnv } from './store.mjs';

export async function main(env = process.env) {
  const port = Number(env.PORT ?? 3000);
  const adminToken = env.ADMIN_TOKEN || DEFAULT_ADMIN_TOKEN;
  const { store, description } = storeFromEnv(env);
  const { app } = await createApp({ store, adminToken });
  await app.listen(port);
  const base = `http://localhost:${port}`;
  console.log(`slidegate NestJS example on ${base}, counting in ${description}

Try it:
  # public route, 10 requests a minute per client IP; the 11th is a 429 with Retry-After
  for i in $(seq 1 11); do curl -s -o /dev/null -w '%{http_code} ' ${base}/; done; echo
  curl -i ${base}/                                   # RateLimit and RateLimit-Policy headers (draft-8)

  # per-API-key route, 5 requests a minute per key
  for i in $(seq 1 6); do curl -s -o /dev/null -w '%{http_code} ' -H 'x-api-key: alice' ${base}/api/data; done; echo

  # give alice 100 a minute at run time (token from ADMIN_TOKEN${env.ADMIN_TOKEN ? '' : `, default '${DEFAULT_ADMIN_TOKEN}'`})
  curl -X POST -H 'authorization: Bearer ${env.ADMIN_TOKEN ? '$ADMIN_TOKEN' : adminToken}' -H 'content-type: application/json' \\
       -d '{"limit":100,"windowSeconds":60}' ${base}/admin/limits/alice
  curl -i -H 'x-api-key: alice' ${base}/api/data

  # what the limiters do: the live status page, ${base}/status in a browser; its JSON; Prometheus metrics
  curl -s ${base}/status.json
  curl -s ${base}/metrics | grep '^slidegate_decisions_total'
`);
  const stop = async () => {
    await app.close();
    await store.close();
  };
  return { app, stop };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { stop } = await main();
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void stop().then(() => process.exit(0)));
}
