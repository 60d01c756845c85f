import type { Cluster, Redis } from 'ioredis';
import { ErrorCodes, StoreError } from '../../errors';

/**
 * How long a write or config read waits for a client that is still connecting (or reconnecting) before it fails
 * without being sent. A little under the limiter's own deadline for these calls (at least 1000 ms:
 * `CONFIG_TIMEOUT_MS` in faults/resilient-store.ts), so the caller sees "not connected" rather than a timeout,
 * and a write that gave up waiting is never sent later behind the caller's back.
 */
export const CONNECT_WAIT_MS = 900;

/**
 * Resolves once `client` is connected and ready for commands (at once if it is), and rejects with a
 * STORE_CONNECTION `StoreError` if it is not within `timeoutMs`, or if it ends (quit, or no more retries).
 * With the safe settings (no offline queue) a command sent while connecting fails at once with "Stream isn't
 * writeable"; waiting here is what lets a program call `updateLimit` right after it created its store.
 * A lazy client (`lazyConnect`) is asked to connect.
 */
export function clientReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(notReady('the connection has ended (closed, or out of retries)'));
  if (client.status === 'wait') client.connect().catch(() => undefined); // failures show as 'error' events and the timeout
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: StoreError): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = (): void => settle();
    const onEnd = (): void => settle(notReady('the connection has ended (closed, or out of retries)'));
    const timer = setTimeout(() => settle(notReady(`not connected within ${timeoutMs} ms (status '${client.status}')`)), timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

function notReady(why: string): StoreError {
  return new StoreError(`slidegate: RedisStore is not ready: ${why}`, { code: ErrorCodes.STORE_CONNECTION });
}
