import { ErrorCodes, SlidegateError, StoreError, type ErrorCode } from '../errors';

/** How the resilient wrapper treats one failed store call. */
export interface ClassifiedError {
  /** The coded error handed to `onError` (and thrown by limit reads/writes). */
  error: StoreError;
  /**
   * False for errors about one client's data (WRONGTYPE): the store answered, so it is healthy and
   * the breaker must not open for every client because one key was overwritten.
   */
  storeFailure: boolean;
}

// Redis error replies start with an upper-case code; inside a Lua script Redis 7 keeps the code of the
// failing redis.call() at the start too, older servers put it after "ERR Error running script".
const REPLY_CODES: ReadonlyArray<[RegExp, ErrorCode]> = [
  [/\bWRONGTYPE\b/, ErrorCodes.STORE_WRONG_TYPE],
  [/\bOOM\b/, ErrorCodes.STORE_OUT_OF_MEMORY],
  [/\bREADONLY\b/, ErrorCodes.STORE_READ_ONLY],
  [/\bNOSCRIPT\b/, ErrorCodes.STORE_NO_SCRIPT],
  [/^(MOVED|ASK) |Too many Cluster redirections/, ErrorCodes.STORE_REDIRECTED],
  [/^(BUSY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS)\b/, ErrorCodes.STORE_BUSY],
];

// ioredis' and node-redis' own messages when there is no usable connection (enableOfflineQueue:
// false and disableOfflineQueue: true make these immediate), plus Node's socket errors.
const CONNECTION_MESSAGES =
  /The client is closed|The client is offline|Socket closed unexpectedly|Disconnects client|Connection timeout|Connection is closed|Stream isn't writeable|enableOfflineQueue options is false|Reached the max retries per request|None of startup nodes is available|Failed to refresh slots cache|Cluster is ended|Connection is in monitoring mode|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/;
const CONNECTION_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Maps any failure of a store call to a coded `StoreError`, keeping the original as `cause`. */
export function classifyStoreError(error: unknown, operation: string): ClassifiedError {
  // A store's own coded error stands; a generic one (RedisStore wraps every ioredis error as
  // STORE_FAILURE) is classified by the error it wraps.
  if (error instanceof StoreError && (error.code !== ErrorCodes.STORE_FAILURE || error.cause === undefined)) {
    return { error, storeFailure: error.code !== ErrorCodes.STORE_WRONG_TYPE };
  }
  const source = error instanceof StoreError ? error.cause : error;
  const message = source instanceof Error ? source.message : String(source);
  const errno = (source as { code?: unknown } | null)?.code;
  let code: ErrorCode = ErrorCodes.STORE_FAILURE;
  if (source instanceof SlidegateError) {
    code = source.code;
  } else if ((typeof errno === 'string' && CONNECTION_ERRNO.has(errno)) || CONNECTION_MESSAGES.test(message)) {
    code = ErrorCodes.STORE_CONNECTION;
  } else if (/^Command timed out/.test(message)) {
    code = ErrorCodes.STORE_TIMEOUT;
  } else {
    for (const [pattern, replyCode] of REPLY_CODES) {
      if (pattern.test(message)) {
        code = replyCode;
        break;
      }
    }
  }
  const wrapped = new StoreError(`slidegate: store ${operation} failed (${code}): ${message}`, { cause: error, code });
  return { error: wrapped, storeFailure: code !== ErrorCodes.STORE_WRONG_TYPE };
}
