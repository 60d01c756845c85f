import type { Cluster, Redis } from 'ioredis';
import type { RedisClientAdapter, RedisCommandArg, RedisSendOptions, RedisSubscriber, RedisSubscriberEvents } from './adapter';
import { clientReady } from '../client-ready';

/** Delay before a subscriber that gave up reconnecting is replaced by a fresh connection. */
const REOPEN_DELAY_MS = 250;

type Call = (command: string, ...args: RedisCommandArg[]) => Promise<unknown>;
type Method = (...args: RedisCommandArg[]) => Promise<unknown>;

/** True for an ioredis 5 or 6 `Redis` or `Cluster`, or an iovalkey one (its fork, same shape). */
export function isIoredisLike(client: unknown): boolean {
  const c = client as Partial<Record<'callBuffer' | 'duplicate' | 'defineCommand', unknown>> | null;
  return typeof c === 'object' && c !== null && typeof c.callBuffer === 'function' && typeof c.defineCommand === 'function';
}

/**
 * ioredis (5, 6) and iovalkey: `call`/`callBuffer` send any command (a Cluster routes it by the
 * keys the command names: EVALSHA's numkeys); the subscriber is a `duplicate()` of the client, or
 * of one node's connection on a Cluster (Cluster PUBLISH reaches every node).
 */
export class IoredisAdapter implements RedisClientAdapter {
  readonly name: string;
  readonly isCluster: boolean;
  readonly #client: Redis | Cluster;
  /** The client's own method of each command sent so far (evalshaBuffer, hmget...), bound. */
  readonly #methods = new Map<string, Method>();

  constructor(client: Redis | Cluster, name = 'ioredis') {
    this.#client = client;
    this.isCluster = client.isCluster === true;
    this.name = this.isCluster ? `${name} Cluster` : name;
  }

  send(args: readonly RedisCommandArg[], options?: RedisSendOptions): Promise<unknown> {
    const command = String(args[0]).toLowerCase();
    const name = options?.binary === true ? `${command}Buffer` : command;
    let method = this.#methods.get(name);
    if (method === undefined) {
      // The command's own method, not call(): with enableAutoPipelining, ioredis 5 sends call()'s
      // first argument as the command name's argument list and drops the name.
      const own = (this.#client as unknown as Record<string, unknown>)[name];
      const client = this.#client as unknown as { call: Call; callBuffer: Call };
      const generic = options?.binary === true ? client.callBuffer : client.call;
      method = typeof own === 'function' ? (own as Method).bind(this.#client) : (...rest: RedisCommandArg[]) => generic.call(this.#client, command, ...rest);
      this.#methods.set(name, method);
    }
    return method(...args.slice(1));
  }

  /** ioredis connects on its own, so a new client is still connecting when the program's next line runs. */
  ready(timeoutMs: number): Promise<void> {
    return this.#client.status === 'ready' ? Promise.resolve() : clientReady(this.#client, timeoutMs);
  }

  subscribe(channel: string, events: RedisSubscriberEvents): RedisSubscriber {
    return new IoredisSubscriber(this.#client, channel, events);
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

class IoredisSubscriber implements RedisSubscriber {
  readonly #source: Redis | Cluster;
  readonly #channel: string;
  readonly #events: RedisSubscriberEvents;
  #connection: Redis | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(source: Redis | Cluster, channel: string, events: RedisSubscriberEvents) {
    this.#source = source;
    this.#channel = channel;
    this.#events = events;
    this.#open();
  }

  get connection(): Redis | undefined {
    return this.#connection;
  }

  close(): void {
    this.#closed = true;
    if (this.#reopenTimer !== undefined) clearTimeout(this.#reopenTimer);
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.disconnect();
  }

  #open(): void {
    this.#reopenTimer = undefined;
    if (this.#closed) return;
    const connection = this.#makeConnection();
    if (connection === undefined) {
      this.#scheduleReopen();
      return;
    }
    this.#connection = connection;
    // Errors surface as close/end below; the listener keeps ioredis from reporting them as unhandled.
    connection.on('error', () => undefined);
    connection.on('message', (channel: string, message: string) => {
      if (channel === this.#channel && connection === this.#connection) this.#events.message(message);
    });
    connection.on('close', () => {
      if (connection === this.#connection) this.#events.dropped();
    });
    connection.on('ready', () => {
      // On every (re)connection. ioredis also re-subscribes on its own after a reconnect; doing it
      // here too is harmless and gives a reply to wait for, after which no message can be missed.
      connection.subscribe(this.#channel).then(
        () => {
          if (connection === this.#connection && !this.#closed) this.#events.subscribed();
        },
        // A failed SUBSCRIBE means the connection is going away; 'close'/'end' take it from here.
        () => undefined,
      );
    });
    connection.on('end', () => {
      if (connection === this.#connection) this.#scheduleReopen();
    });
    // A failed connect ends in 'close'/'end' (handled above), or in ioredis' own reconnects.
    connection.connect().catch(() => undefined);
  }

  #scheduleReopen(): void {
    if (this.#closed || this.#reopenTimer !== undefined) return;
    const old = this.#connection;
    this.#connection = undefined;
    old?.disconnect();
    this.#reopenTimer = setTimeout(() => this.#open(), REOPEN_DELAY_MS);
    this.#reopenTimer.unref();
  }

  #makeConnection(): Redis | undefined {
    // The user's settings, except what a subscriber needs: it connects when told to, and it may
    // queue its SUBSCRIBE (clients made safe for decisions turn the offline queue off).
    const override = { lazyConnect: true, enableOfflineQueue: true, autoResubscribe: true };
    if (!this.#source.isCluster) return (this.#source as Redis).duplicate(override);
    const nodes = (this.#source as Cluster).nodes('all');
    const node = nodes[Math.floor(Math.random() * nodes.length)];
    // Cluster node connections do not reconnect (retryStrategy null): on 'end' we pick another node.
    return node?.duplicate(override);
  }
}
