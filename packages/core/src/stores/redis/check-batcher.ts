import clusterSlot from 'cluster-key-slot';
import { ErrorCodes, StoreError } from '../../errors';
import type { Algorithm, StoreDecision } from '../../types';
import {
  BATCH_ENTRY_ERROR,
  CHECK_REPLY_BYTES,
  CHECK_REPLY_SHORT_BYTES,
  REPLY_SHORT,
  SLIDING_COUNTER_CHECK,
  SLIDING_COUNTER_CHECK_BATCH,
  SLIDING_LOG_CHECK,
  SLIDING_LOG_CHECK_BATCH,
  SLIDING_WINDOW_CHECK,
  SLIDING_WINDOW_CHECK_BATCH,
  ALWAYS_SENT_ARGS,
} from './scripts';
import type { RedisClientAdapter } from './clients/adapter';
import { evalScript, luaScript, type LuaScript } from './clients/lua-script';

export type ScriptArg = string | number;

/** Script names (in errors); versioned with the scripts. */
export const CHECK_COMMANDS = {
  'sliding-window': { check: 'slidegateSlidingWindowCheckV3', batch: 'slidegateSlidingWindowCheckBatchV3', release: 'slidegateSlidingWindowReleaseV3' },
  'sliding-log': { check: 'slidegateSlidingLogCheckV3', batch: 'slidegateSlidingLogCheckBatchV3', release: 'slidegateSlidingLogReleaseV3' },
  'sliding-counter': { check: 'slidegateSlidingCounterCheckV3', batch: 'slidegateSlidingCounterCheckBatchV3', release: 'slidegateSlidingCounterReleaseV3' },
} as const;

/**
 * What a check sends: EVALSHA of the script's SHA-1, with a binary reply. After NOSCRIPT (SCRIPT
 * FLUSH, a restart, a failover) the same call goes as EVAL of the source, which loads it again.
 * A batch's key count varies, so it is given with each call.
 */
interface CheckScripts {
  single: LuaScript;
  batch: LuaScript;
}

function checkScripts(single: string, batch: string, numberOfKeys: number, algorithm: Algorithm): CheckScripts {
  return {
    single: luaScript(CHECK_COMMANDS[algorithm].check, single, numberOfKeys),
    batch: luaScript(CHECK_COMMANDS[algorithm].batch, batch, -1),
  };
}

const SCRIPTS: Record<Algorithm, CheckScripts> = {
  'sliding-window': checkScripts(SLIDING_WINDOW_CHECK, SLIDING_WINDOW_CHECK_BATCH, 2, 'sliding-window'),
  'sliding-log': checkScripts(SLIDING_LOG_CHECK, SLIDING_LOG_CHECK_BATCH, 3, 'sliding-log'),
  'sliding-counter': checkScripts(SLIDING_COUNTER_CHECK, SLIDING_COUNTER_CHECK_BATCH, 2, 'sliding-counter'),
};

/** A check waiting for its batch to be sent. */
interface PendingCheck {
  keys: ScriptArg[];
  args: ScriptArg[];
  resolve: (decision: StoreDecision) => void;
  reject: (error: unknown) => void;
}

/** Checks of one algorithm that may share a script call (on a Cluster: of one slot). */
interface Group {
  algorithm: Algorithm;
  checks: PendingCheck[];
}

/** Arguments every check sends (timestamp, default limit and window, bucketMs); a batch sends them once when they repeat. */
const SHARED_ARGS = ALWAYS_SENT_ARGS;

/** The most checks one script call carries: bounds how long a batch holds Redis (about 5 us per check). */
export const DEFAULT_MAX_BATCH = 128;

/**
 * Sends the checks of one RedisStore. Checks made in the same turn of the event loop (many
 * requests in flight at once) go out together when it ends, as one EVALSHA of the batch script,
 * which decides them in order exactly as separate calls would; a lone check goes out as the
 * single-check script. So a busy instance pays Redis's per-call cost (command parsing, script
 * entry, reply) and the client's per-command cost once per batch rather than once per decision.
 * A check made while no call is in flight goes at once: an idle instance waits for nothing.
 */
export class CheckBatcher {
  readonly #redis: RedisClientAdapter;
  readonly #maxBatch: number;
  /** On a Cluster the keys of one call must share a slot, so groups are per algorithm and slot. */
  readonly #bySlot: boolean;
  readonly #groups = new Map<string, Group>();
  #scheduled = false;
  /** Script calls sent and not answered yet. While there are none, a check has nothing to wait for. */
  #inFlight = 0;

  constructor(redis: RedisClientAdapter, maxBatch: number) {
    this.#redis = redis;
    this.#maxBatch = maxBatch;
    this.#bySlot = redis.isCluster;
  }

  /** Decides one check: keys are the script's KEYS (the first one carries the client's hash tag). */
  check(algorithm: Algorithm, keys: ScriptArg[], args: ScriptArg[]): Promise<StoreDecision> {
    if (this.#maxBatch === 1) return this.#sendOne(algorithm, keys, args);
    // An idle store sends at once: waiting for the turn to end only pays when others are waiting too.
    if (this.#inFlight === 0 && !this.#scheduled) return this.#tracked(this.#sendOne(algorithm, keys, args));
    return new Promise<StoreDecision>((resolve, reject) => {
      const groupKey = this.#bySlot ? `${algorithm}:${clusterSlot(String(keys[0]))}` : algorithm;
      let group = this.#groups.get(groupKey);
      if (group === undefined) this.#groups.set(groupKey, (group = { algorithm, checks: [] }));
      group.checks.push({ keys, args, resolve, reject });
      if (group.checks.length >= this.#maxBatch) {
        // A full batch goes at once: in a long synchronous run of checks, Redis works while the
        // run goes on, as it would on separate calls (and their timeouts keep their meaning).
        this.#groups.delete(groupKey);
        this.#send(group);
        return;
      }
      if (!this.#scheduled) {
        this.#scheduled = true;
        // After this turn's I/O callbacks (requests read from many sockets in one go), as ioredis'
        // own auto-pipelining does: a busy HTTP server's checks then share a call.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    for (const group of this.#groups.values()) this.#send(group);
    this.#groups.clear();
  }

  /** Sends one group (at most maxBatch checks): alone as the single-check script, else as a batch. */
  #send({ algorithm, checks }: Group): void {
    if (checks.length === 1) {
      const [only] = checks as [PendingCheck];
      this.#tracked(this.#sendOne(algorithm, only.keys, only.args)).then(only.resolve, only.reject);
    } else {
      this.#sendBatch(algorithm, checks);
    }
  }

  /** Counts a call in flight until it settles. */
  #tracked<T>(call: Promise<T>): Promise<T> {
    this.#inFlight++;
    const settled = (): void => {
      this.#inFlight--;
    };
    call.then(settled, settled);
    return call;
  }

  async #sendOne(algorithm: Algorithm, keys: ScriptArg[], args: ScriptArg[]): Promise<StoreDecision> {
    const reply = await this.#call(SCRIPTS[algorithm].single, [...keys, ...args], keys.length);
    if (!Buffer.isBuffer(reply) || reply.length !== replyBytes(reply, 0)) throw badReply(reply);
    return decodeDecision(reply, viewOf(reply), 0, args);
  }

  #sendBatch(algorithm: Algorithm, batch: PendingCheck[]): void {
    const { batch: script } = SCRIPTS[algorithm];
    const keys: ScriptArg[] = [];
    const args: ScriptArg[] = [];
    const [first] = batch as [PendingCheck];
    for (const [i, entry] of batch.entries()) {
      for (const key of entry.keys) keys.push(key);
      const a = entry.args;
      // Left out: the same timestamp, default limit and window, and bucketMs as the first entry, and nothing more.
      if (entry !== first && a.length === SHARED_ARGS && a[0] === first.args[0] && a[1] === first.args[1] && a[2] === first.args[2] && a[3] === first.args[3]) continue;
      args.push(i + 1, a.length);
      for (const arg of a) args.push(arg);
    }
    const numberOfKeys = keys.length;
    for (const arg of args) keys.push(arg);
    this.#tracked(this.#call(script, keys, numberOfKeys)).then(
      (reply) => settleBatch(batch, reply, script.name),
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  }

  /** One script call (EVALSHA, EVAL after NOSCRIPT). Errors come back as StoreErrors. */
  async #call(script: LuaScript, keysAndArgs: ScriptArg[], numberOfKeys: number): Promise<unknown> {
    try {
      return await evalScript(this.#redis, script, keysAndArgs, { binary: true, numberOfKeys });
    } catch (error) {
      throw new StoreError(`slidegate: RedisStore ${script.name} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Hands each entry of a batch its decision, or its own error (the others are unaffected). */
function settleBatch(batch: PendingCheck[], reply: unknown, command: string): void {
  if (!Buffer.isBuffer(reply)) {
    const error = badReply(reply);
    for (const entry of batch) entry.reject(error);
    return;
  }
  const view = viewOf(reply);
  let offset = 0;
  for (const entry of batch) {
    if (offset < reply.length && reply[offset] === BATCH_ENTRY_ERROR && offset + 5 <= reply.length) {
      const length = view.getUint32(offset + 1, true);
      const message = reply.toString('utf8', offset + 5, offset + 5 + length);
      offset += 5 + length;
      // Worded as the single call's failure would be, so errors are classified the same way (WRONGTYPE...).
      entry.reject(new StoreError(`slidegate: RedisStore ${command} failed: ${message}`, { cause: new Error(message) }));
    } else if (offset < reply.length && offset + replyBytes(reply, offset) <= reply.length) {
      entry.resolve(decodeDecision(reply, view, offset, entry.args));
      offset += replyBytes(reply, offset);
    } else {
      entry.reject(badReply(reply));
    }
  }
}

function badReply(reply: unknown): StoreError {
  return new StoreError(`slidegate: RedisStore got an unexpected script reply: ${JSON.stringify(reply)}`, { code: ErrorCodes.STORE_BAD_REPLY });
}

/** A view of the reply's bytes (often a slice of a larger pooled buffer). */
function viewOf(reply: Buffer): DataView {
  return new DataView(reply.buffer, reply.byteOffset, reply.length);
}

/** Length of the decision at `offset`: a short reply, or a full one. */
function replyBytes(reply: Buffer, offset: number): number {
  return reply[offset] === REPLY_SHORT ? CHECK_REPLY_SHORT_BYTES : CHECK_REPLY_BYTES;
}

/**
 * A check script's reply at `offset`: struct '<Bddddddd' (see scripts.ts) = allowed, limit,
 * windowSeconds, remaining, retryAfter (ms; -1 = Infinity), resetAfter (ms), timestamp (ms),
 * granted; or the short reply of a plain allowed check, '<Bdd' = REPLY_SHORT, remaining, resetAfter
 * (ms), whose limit, window and timestamp are the request's own (`args`: CHECK_ARGS). Times come
 * back in seconds, as `Decision` carries them. Read through a DataView: Buffer's readDoubleLE costs
 * several times as much.
 */
function decodeDecision(reply: Buffer, view: DataView, offset: number, args: ScriptArg[]): StoreDecision {
  if (reply[offset] === REPLY_SHORT) {
    return {
      allowed: true,
      limit: Number(args[1]),
      windowSeconds: Number(args[2]),
      remaining: view.getFloat64(offset + 1, true),
      retryAfter: 0,
      resetAfter: view.getFloat64(offset + 9, true) / 1000,
      timestamp: Number(args[0]) / 1000,
      source: 'store',
      granted: 0,
    };
  }
  const retryAfter = view.getFloat64(offset + 25, true);
  return {
    allowed: reply[offset] === 1,
    limit: view.getFloat64(offset + 1, true),
    windowSeconds: view.getFloat64(offset + 9, true),
    remaining: view.getFloat64(offset + 17, true),
    retryAfter: retryAfter === -1 ? Infinity : retryAfter / 1000,
    resetAfter: view.getFloat64(offset + 33, true) / 1000,
    timestamp: view.getFloat64(offset + 41, true) / 1000,
    source: 'store',
    granted: view.getFloat64(offset + 49, true),
  };
}
