// A worker process of test/redis-distributed.test.ts: watches limit changes through its own
// RedisStore (the BUILT @slidegate/core) and reports each one with the limit it then reads.
import { Redis } from 'ioredis';
import { RedisStore, SAFE_REDIS_OPTIONS } from '@slidegate/core';

const job = JSON.parse(process.argv[2]);
const client = new Redis(job.url, SAFE_REDIS_OPTIONS);
client.on('error', () => undefined);
const store = new RedisStore({ client, prefix: job.prefix });

store.onLimitChange((clientId) => {
  if (clientId === undefined) return;
  store.getLimit(clientId).then(
    (limit) => process.send({ changed: clientId, limit }),
    (error) => process.send({ error: String(error) }),
  );
});

// Ready once the subscription is confirmed and the client connected (bounded: 5 s).
const started = Date.now();
const connected = () => store.subscriberConnection?.status === 'ready' && client.status === 'ready';
const poll = setInterval(() => {
  if (connected() || Date.now() - started > 5000) {
    clearInterval(poll);
    process.send({ ready: connected() });
  }
}, 10);

process.on('message', async (message) => {
  if (message === 'close') {
    await store.close();
    client.disconnect();
    process.exit(0);
  }
});
