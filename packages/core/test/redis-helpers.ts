/** Helpers shared by RedisStore's tests (not a test file itself). */
import { Redis, type Cluster } from 'ioredis';

/** A key prefix no other test or run uses, so tests can share the machine's Redis on 6379. */
export function uniquePrefix(label: string): string {
  return `slidegate-test:${label}:${process.pid}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:`;
}

/**
 * Deletes every key under `prefix` (config keys never expire, so tests clean them up). SCAN with
 * MATCH touches only this test's keys; on a Cluster every master is scanned.
 */
export async function deleteKeys(client: Redis | Cluster, prefix: string): Promise<number> {
  const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: on a Cluster keys of different clients live on different slots.
      for (const key of keys) deleted += await node.del(key);
    } while (cursor !== '0' && ++rounds < 100_000);
  }
  return deleted;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
