import type { ServerResponse } from 'node:http';
import type { HttpLimiter } from './http-limiter';
import type { HeaderLine, RateLimitInfo } from './types';

/**
 * Sets an outcome's headers on Node's response (nothing once it is sent), a list header joined to
 * what is there already; Node merges them with what the framework writes later.
 */
export function setNodeHeaders(res: ServerResponse, headers: readonly HeaderLine[]): void {
  if (res.headersSent) return;
  for (const header of headers) {
    const previous = header.append ? res.getHeader(header.key) : undefined;
    res.setHeader(header.key, previous === undefined ? header.value : `${String(previous)}, ${header.value}`);
  }
}

/**
 * For `skipFailedRequests` / `skipSuccessfulRequests`: once Node's response is sent (or the
 * connection closed before it was), asks whether the allowed request's unit counts. `res` is what
 * `requestWasSuccessful` gets (the framework's response), `raw` the Node response under it.
 */
export function settleWhenSent<Req, Res>(http: HttpLimiter<Req, unknown, Res>, req: Req, res: Res, raw: ServerResponse, info: RateLimitInfo): void {
  let done = false;
  const settle = (statusCode: number | undefined): void => {
    if (done) return;
    done = true;
    void http.settle(req, res, info, statusCode);
  };
  raw.once('finish', () => settle(raw.statusCode));
  raw.once('close', () => settle(raw.writableEnded ? raw.statusCode : undefined));
}
