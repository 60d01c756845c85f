/**
 * The one interface RedisStore talks to: every supported Redis client (ioredis 5 and 6, iovalkey,
 * node-redis 4 and 5) is wrapped in one of these, and a client slidegate does not know can be
 * passed as one directly. RedisStore decides everything itself (which script, EVALSHA or EVAL,
 * batching, what a reply means); an adapter only moves commands and pub/sub messages.
 */

/** An argument of a command: numbers are sent as their decimal text. */
export type RedisCommandArg = string | number;

/** How to send one command. */
export interface RedisSendOptions {
  /**
   * A key the command touches. On a Cluster it routes the command to the key's slot; a
   * standalone or Sentinel client ignores it. Every command RedisStore sends touches keys of one slot.
   */
  key?: string;
  /**
   * Bulk-string replies as `Buffer`s (the check scripts answer in binary); otherwise as UTF-8
   * strings. Integers stay numbers, arrays stay arrays, nil is `null`, either way.
   * @default false
   */
  binary?: boolean;
}

/** What a subscriber connection reports (see `RedisClientAdapter.subscribe`). */
export interface RedisSubscriberEvents {
  /** A message arrived on the channel. */
  message(text: string): void;
  /**
   * The server confirmed the subscription: after the first SUBSCRIBE, and again after every
   * reconnection. From this point until `dropped`, no message on the channel is missed.
   */
  subscribed(): void;
  /** The connection dropped (or is not known to be subscribed any more): messages may be missed. */
  dropped(): void;
}

/** A running subscription; `close()` ends it and its connection. */
export interface RedisSubscriber {
  close(): void;
  /** The underlying connection, for tests that cut it (an ioredis `Redis`, a node-redis client...). */
  readonly connection: unknown;
}

/**
 * A Redis client as RedisStore sees it. Implement it to use a client slidegate does not detect:
 * `new RedisStore({ client: myAdapter })`.
 *
 * Safety (what the built-in adapters check or warn about): a command must never wait in an
 * offline queue (it would run after its caller was answered in fallback), and a command that was
 * sent when the connection dropped must be failed, never sent again (it may already have run: a
 * check counted twice).
 */
export interface RedisClientAdapter {
  /** Names the client in messages, e.g. `'node-redis 5 cluster'`. */
  readonly name: string;
  /** True when keys live on different nodes (Redis Cluster): commands of one call must share a slot. */
  readonly isCluster: boolean;
  /**
   * Sends one command, e.g. `['EVALSHA', sha, 2, key1, key2, arg]`, and resolves with the reply or
   * rejects with the server's error (its message starts with the error code, e.g. `NOSCRIPT ...`).
   */
  send(args: readonly RedisCommandArg[], options?: RedisSendOptions): Promise<unknown>;
  /**
   * Opens a separate connection subscribed to `channel` (a subscribed connection can send nothing
   * else). It reconnects on its own and reports each confirmed subscription and each drop.
   */
  subscribe(channel: string, events: RedisSubscriberEvents): RedisSubscriber;
  /**
   * Optional: resolves once the client is connected and can take commands (at once if it can), and rejects
   * with a STORE_CONNECTION `StoreError` if it cannot within `timeoutMs`. RedisStore waits on it before a
   * write, so a program can change a limit right after creating its client, and `RedisStore.ready()` is it.
   * Leave it out for a client that its users connect themselves before use (node-redis: `await client.connect()`).
   */
  ready?(timeoutMs: number): Promise<void>;
  /** Closes the client: called by `RedisStore.close()` only for a client the store created (`fromUrl`). */
  close?(): Promise<void>;
}

/** True when `value` is a hand-written adapter rather than a client (it has `send` and `subscribe`). */
export function isRedisClientAdapter(value: unknown): value is RedisClientAdapter {
  const v = value as Partial<Record<keyof RedisClientAdapter, unknown>> | null;
  return typeof v === 'object' && v !== null && typeof v.send === 'function' && typeof v.subscribe === 'function' && typeof v.isCluster === 'boolean';
}
