import { createHash } from 'node:crypto';
import type { RedisClientAdapter, RedisCommandArg } from './adapter';

/** A Lua script as RedisStore sends it: its source, its SHA-1 and how many KEYS it takes (-1: varies by call). */
export interface LuaScript {
  /** Names the script in errors. */
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
  readonly numberOfKeys: number;
}

export function luaScript(name: string, lua: string, numberOfKeys: number): LuaScript {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex'), numberOfKeys };
}

/**
 * Runs a script the same way on every client: EVALSHA, and after NOSCRIPT (the server never saw
 * it, or lost it in SCRIPT FLUSH, a restart, a failover) EVAL of the source, which also loads it,
 * so each server is sent the source once. `keysAndArgs` starts with the KEYS; the first one routes
 * the call on a Cluster. `numberOfKeys` overrides the script's own (batches vary).
 */
export async function evalScript(
  redis: RedisClientAdapter,
  script: LuaScript,
  keysAndArgs: readonly RedisCommandArg[],
  options: { binary?: boolean; numberOfKeys?: number } = {},
): Promise<unknown> {
  const numberOfKeys = options.numberOfKeys ?? script.numberOfKeys;
  const send = { key: numberOfKeys > 0 ? String(keysAndArgs[0]) : undefined, binary: options.binary === true };
  try {
    return await redis.send(['EVALSHA', script.sha, numberOfKeys, ...keysAndArgs], send);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
    return redis.send(['EVAL', script.lua, numberOfKeys, ...keysAndArgs], send);
  }
}
