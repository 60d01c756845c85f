import type { Cluster, Redis } from 'ioredis';

/** What the subscription reports to its owner. */
export interface LimitSubscriptionHandlers {
  /** A limit-change message arrived (the payload as published). */
  onMessage(message: string): void;
  /** The connection dropped: messages may be missed from now on, so nothing may be cached. */
  onDesync(): void;
  /** Subscribed again after a drop: anything may have changed unseen meanwhile. */
  onResync(): void;
}

/** Delay before a subscriber that gave up reconnecting is replaced by a fresh connection. */
const REOPEN_DELAY_MS = 250;

/**
 * The pub/sub side of RedisStore's limit cache: one subscriber connection on the store's channel,
 * created from the user's client (`duplicate()` of a Redis; a duplicate of one node's connection
 * for a Cluster, since Cluster PUBLISH reaches every node). It reports every drop and every
 * re-subscription, so a message missed while disconnected can never leave a stale limit cached.
 */
export class LimitSubscription {
  readonly #source: Redis | Cluster;
  readonly #channel: string;
  readonly #handlers: LimitSubscriptionHandlers;
  #connection: Redis | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #subscribed = false;
  #everSubscribed = false;

  constructor(source: Redis | Cluster, channel: string, handlers: LimitSubscriptionHandlers) {
    this.#source = source;
    this.#channel = channel;
    this.#handlers = handlers;
    this.#open();
  }

  /** True while the subscription is confirmed by the server and not dropped since. */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  /** The subscriber connection (for tests that cut it). */
  get connection(): Redis | undefined {
    return this.#connection;
  }

  close(): void {
    this.#closed = true;
    this.#subscribed = false;
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
      if (channel === this.#channel && connection === this.#connection) this.#handlers.onMessage(message);
    });
    connection.on('close', () => {
      if (connection !== this.#connection) return;
      this.#subscribed = false;
      this.#handlers.onDesync();
    });
    connection.on('ready', () => {
      // On every (re)connection. ioredis also re-subscribes on its own after a reconnect; doing it
      // here too is harmless and gives a reply to wait for, after which no message can be missed.
      this.#subscribe(connection);
    });
    connection.on('end', () => {
      if (connection === this.#connection) this.#scheduleReopen();
    });
    // A failed connect ends in 'close'/'end' (handled above), or in ioredis' own reconnects.
    connection.connect().catch(() => undefined);
  }

  #subscribe(connection: Redis): void {
    connection.subscribe(this.#channel).then(
      () => {
        if (connection !== this.#connection || this.#closed) return;
        this.#subscribed = true;
        if (this.#everSubscribed) this.#handlers.onResync();
        this.#everSubscribed = true;
      },
      // A failed SUBSCRIBE means the connection is going away; 'close'/'end' take it from here.
      () => undefined,
    );
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
