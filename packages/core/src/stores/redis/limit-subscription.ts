import type { RedisClientAdapter, RedisSubscriber } from './clients/adapter';

/** What the subscription reports to its owner. */
export interface LimitSubscriptionHandlers {
  /** A limit-change message arrived (the payload as published). */
  onMessage(message: string): void;
  /** The connection dropped: messages may be missed from now on, so nothing may be cached. */
  onDesync(): void;
  /** Subscribed again after a drop: anything may have changed unseen meanwhile. */
  onResync(): void;
}

/**
 * The pub/sub side of RedisStore's limit cache: one subscriber connection on the store's channel,
 * opened by the client's adapter (each client reconnects its own way). It reports every drop and
 * every re-subscription, so a message missed while disconnected can never leave a stale limit cached.
 */
export class LimitSubscription {
  readonly #subscriber: RedisSubscriber;
  #closed = false;
  #subscribed = false;
  #everSubscribed = false;

  constructor(redis: RedisClientAdapter, channel: string, handlers: LimitSubscriptionHandlers) {
    this.#subscriber = redis.subscribe(channel, {
      message: (text) => {
        if (!this.#closed) handlers.onMessage(text);
      },
      subscribed: () => {
        if (this.#closed || this.#subscribed) return;
        this.#subscribed = true;
        if (this.#everSubscribed) handlers.onResync();
        this.#everSubscribed = true;
      },
      dropped: () => {
        if (this.#closed) return;
        this.#subscribed = false;
        handlers.onDesync();
      },
    });
  }

  /** True while the subscription is confirmed by the server and not dropped since. */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  /** The subscriber connection (for tests that cut it). */
  get connection(): unknown {
    return this.#subscriber.connection;
  }

  close(): void {
    this.#closed = true;
    this.#subscribed = false;
    this.#subscriber.close();
  }
}
