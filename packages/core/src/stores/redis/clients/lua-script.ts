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
  // Built once, as strings: every client turns numbers into text anyway, and ioredis does it at
  // a cost that shows on a batch of hundreds of arguments.
  const command: string[] = new Array<string>(3 + keysAndArgs.length);
  command[0] = 'EVALSHA';
  command[1] = script.sha;
  command[2] = String(numberOfKeys);
  for (let i = 0; i < keysAndArgs.length; i++) {
    const arg = keysAndArgs[i] as RedisCommandArg;
    command[3 + i] = typeof arg === 'string' ? arg : String(arg);
  }
  const send = { key: numberOfKeys > 0 ? command[3] : undefined, binary: options.binary === true };
  try {
    return await redis.send(command, send);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
    // A fresh array: a client may still hold the first one.
    const evalCommand = command.slice();
    evalCommand[0] = 'EVAL';
    evalCommand[1] = script.lua;
    return redis.send(evalCommand, send);
  }
}
