// Starts the NestJS example: PORT (default 3000), REDIS_URL (optional), ADMIN_TOKEN (optional).
// From the repository root: npm run build && npm start -w examples/nestjs (tsx, with this folder's tsconfig.json)
import { fileURLToPath } from 'node:url';
import { createApp, DEFAULT_ADMIN_TOKEN } from './app';
// @ts-expect-error: plain ESM JavaScript without type declarations, shared by the examples.
import { adminTokenFromEnv } from '../admin-token.mjs';
// @ts-expect-error: plain ESM JavaScript without type declarations, shared with the other examples.
import { storeFromEnv } from './store.mjs';
// @ts-expect-error: plain ESM JavaScript without type declarations, shared by the examples.
import { tryItText } from '../try-it.mjs';

export async function main(env = process.env) {
  const port = Number(env.PORT ?? 3000);
  // Refuses to start in production without ADMIN_TOKEN; warns loudly when it falls back to the default.
  const adminToken = adminTokenFromEnv(env) as string;
  const { store, description } = storeFromEnv(env);
  const { app } = await createApp({ store, adminToken });
  await app.listen(port);
  const base = `http://localhost:${port}`;
  console.log(tryItText({ framework: 'NestJS', base, description, env, adminToken, defaultAdminToken: DEFAULT_ADMIN_TOKEN }));
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
