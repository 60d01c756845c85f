import { Redis } from 'ioredis';

const ADMIN_TIMEOUT_MS = 1_000;

/**
 * Sends one command on a fresh, short-lived connection and returns the reply.
 * Used for CLUSTER INFO, SENTINEL MASTER and the like while nodes come and go: no reconnect loop,
 * no offline queue, and a bounded wait, so a dead node fails fast instead of hanging a probe.
 */
export async function adminCommand(port: number, args: [string, ...string[]], password?: string): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: ADMIN_TIMEOUT_MS,
    commandTimeout: ADMIN_TIMEOUT_MS,
    ...(password === undefined ? {} : { password }),
  });
  // Errors reach the caller through the rejected promise; without a listener ioredis would also log them.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [command, ...rest] = args;
    return await client.call(command, ...rest);
  } finally {
    client.disconnect();
  }
}

/** Parses `key:value` lines (INFO, CLUSTER INFO) into a map. */
export function parseInfo(text: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of String(text).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Turns a flat `[key, value, key, value]` reply (SENTINEL MASTER) into a map. */
export function pairsToMap(reply: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (!Array.isArray(reply)) return fields;
  for (let index = 0; index + 1 < reply.length; index += 2) fields.set(String(reply[index]), String(reply[index + 1]));
  return fields;
}
