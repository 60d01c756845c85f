// Starts the Hono example: PORT (default 3000), REDIS_URL (optional), ADMIN_TOKEN (optional).
import { once } from 'node:events';
import { serve } from '@hono/node-server';
import { fileURLToPath } from 'node:url';
import { adminTokenFromEnv, DEFAULT_ADMIN_TOKEN } from '../admin-token.mjs';
import { createApp } from './app.mjs';
import { storeFromEnv } from './store.mjs';
import { tryItText } from '../try-it.mjs';

export async function main(env = process.env) {
  const port = Number(env.PORT ?? 3000);
  // Refuses to start in production without ADMIN_TOKEN; warns loudly when it falls back to the default.
  const adminToken = adminTokenFromEnv(env);
  const { store, description } = storeFromEnv(env);
  const { app, close } = createApp({ store, adminToken });
  const server = serve({ fetch: app.fetch, port });
  await once(server, 'listening');
  const base = `http://localhost:${server.address().port}`;
  console.log(tryItText({ framework: 'Hono', base, description, env, adminToken, defaultAdminToken: DEFAULT_ADMIN_TOKEN }));
  const stop = async () => {
    server.close();
    await close();
    await store.close();
  };
  return { server, stop };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { stop } = await main();
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void stop().then(() => process.exit(0)));
}
