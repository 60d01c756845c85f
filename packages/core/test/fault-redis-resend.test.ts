import { once } from 'node:events';
import { expect } from 'chai';
import { Redis, type RedisOptions } from 'ioredis';
import { startRedis, type RedisServer } from '@slidegate/test-utils';
import { SAFE_REDIS_OPTIONS } from '../src/faults/redis-client-safety';
import { RedisStore } from '../src/stores/redis-store';
import type { StoreCheckRequest } from '../src/types';

// Why SAFE_REDIS_OPTIONS turns off autoResendUnfulfilledCommands: a check written to a connection
// that then drops may already have run (here: it waits in the frozen server's socket buffer and
// runs when the server resumes). ioredis' default re-sends it on the new connection, so one
// request is counted twice. Real servers only: the effect lives in ioredis and Redis together.

const T0 = 1_700_000_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function request(clientId: string): StoreCheckRequest {
  return { clientId, timestamp: T0, cost: 1, defaults: { limit: 100, windowSeconds: 60 }, algorithm: 'sliding-window', extra: 0, limitFactor: 1 };
}

describe('fault: a check whose connection drops before its answer is never re-sent (real Redis, frozen then resumed)', function () {
  this.timeout(20_000);
  let server: RedisServer;
  const clients: Redis[] = [];
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server.stop();
  });

  /** Sends one check to a frozen server, drops the connection under it, resumes the server; returns the units recorded. */
  async function checkAcrossReconnect(options: RedisOptions, clientId: string): Promise<{ recorded: number; outcome: string }> {
    const client = new Redis({ host: server.host, port: server.port, ...options });
    client.on('error', () => undefined);
    clients.push(client);
    if (client.status !== 'ready') await once(client, 'ready');
    const store = new RedisStore({ client, prefix: 'fault-resend:' });
    await store.check(request(`${clientId}-warm-up`)); // the script is loaded: the frozen EVALSHA will run
    await server.kill('SIGSTOP');
    let outcome = 'pending';
    const pending = store.check(request(clientId)).then(
      () => (outcome = 'answered'),
      (e: Error) => (outcome = `failed: ${e.message}`),
    );
    try {
      await sleep(50); // the check is written to the socket and sits in the frozen server's buffer
      (client as unknown as { stream: { destroy(): void } }).stream.destroy();
      await sleep(300); // ioredis reconnects (the kernel accepts; the ready check waits for the server)
    } finally {
      await server.kill('SIGCONT');
    }
    await Promise.race([pending, sleep(3000)]);
    if (client.status !== 'ready') await Promise.race([once(client, 'ready'), sleep(3000)]);
    const probe = new Redis({ host: server.host, port: server.port });
    clients.push(probe);
    const probeStore = new RedisStore({ client: probe, prefix: 'fault-resend:' });
    const after = await probeStore.check({ ...request(clientId), cost: 1 });
    await probeStore.close();
    await store.close();
    return { recorded: 100 - after.remaining - 1, outcome };
  }

  it("ioredis' defaults re-send it after the reconnect: one request counted twice (the hazard)", async () => {
    const { recorded, outcome } = await checkAcrossReconnect({}, 'defaults');
    expect(outcome).to.equal('answered');
    expect(recorded).to.equal(2);
  });

  it('SAFE_REDIS_OPTIONS fail it at the drop and never re-send it: counted at most once', async () => {
    const { recorded, outcome } = await checkAcrossReconnect(SAFE_REDIS_OPTIONS, 'safe');
    expect(outcome).to.match(/^failed: /);
    expect(recorded).to.be.at.most(1);
  });
});
