import { createHash } from 'node:crypto';
import type { Decision } from '../types';
import type { PolicyDecision, PolicyStatus } from '../policies/policy-types';
import { decimal } from './decimal';
import type { HeaderLine, HeadersMode } from './types';

/**
 * The largest integer a structured field can carry (RFC 9651: at most 15 digits). Counts above it (a
 * limit of 10^15 or more) are sent as this: a value a client can parse, and still larger than any it
 * will use up.
 */
export const MAX_SF_INTEGER = 999_999_999_999_999;

/** `decimal(n)`, capped where structured-field integers end. */
function sfInteger(n: number): string {
  return n > MAX_SF_INTEGER ? MAX_SF_INTEGER_TEXT : decimal(n);
}
const MAX_SF_INTEGER_TEXT = String(MAX_SF_INTEGER);

/**
 * A policy name as the body of a structured-field string: `"` and `\` escaped, and anything outside
 * printable ASCII (which a string cannot hold, and which Node refuses in a header value outside
 * Latin-1) percent-encoded as UTF-8, so `限流` is sent as `%E9%99%90%E6%B5%81`. Done once, when the
 * middleware is made.
 */
export function policyNameText(name: string): string {
  let text = '';
  for (const char of name) {
    const code = char.codePointAt(0) as number;
    if (char === '"' || char === '\\') text += `\\${char}`;
    else if (code >= 0x20 && code <= 0x7e && char !== '%') text += char;
    // '%' too, so an encoded name never reads as another; a lone surrogate (no UTF-8 form) as U+FFFD.
    else text += code >= 0xd800 && code <= 0xdfff ? '%EF%BF%BD' : encodeURIComponent(char);
  }
  return text;
}

/** The header modes, in one place for validation and docs. */
export const HEADER_MODES: readonly Exclude<HeadersMode, false>[] = ['draft-8', 'draft-7', 'draft-6', 'legacy', 'none'];

/**
 * express-rate-limit 8 names 'draft-8' in its own quick start and supports no later draft, so it
 * is the current standard header for Node users and tools (ratelimit-header-parser) alike.
 */
export const DEFAULT_HEADERS_MODE: HeadersMode = 'draft-8';

/**
 * The rate-limit headers for a decision, formatted exactly as express-rate-limit formats each mode.
 * Seconds come from the decision, rounded up to whole seconds (headers carry integers; a client
 * that waits the rounded time is never early): `reset` is `resetAfter`, the window is
 * `windowSeconds` (the client's own window when it has one), and legacy `X-RateLimit-Reset` is the
 * Unix time `timestamp + resetAfter`.
 */
export function rateLimitHeaders(mode: HeadersMode, decision: Decision, key: string, policyName: string | undefined): HeaderLine[] {
  return headerLines(mode, decision, key, policyName === undefined ? undefined : policyNameText(policyName));
}

/** `rateLimitHeaders` with the policy name already encoded (`policyNameText`). */
function headerLines(mode: HeadersMode, decision: Decision, key: string, policyName: string | undefined): HeaderLine[] {
  const { limit, remaining, resetAfter, windowSeconds } = decision;
  const policies = (decision as Partial<PolicyDecision>).policies;
  if (policies !== undefined && policies.length > 1 && (mode === 'draft-8' || mode === 'draft-7' || mode === 'draft-6')) {
    return multiPolicyHeaders(mode, decision, policies, key, policyName);
  }
  switch (mode) {
    case 'draft-8': {
      const name = policyName ?? defaultPolicyName(limit, windowSeconds);
      return [
        line('RateLimit-Policy', draft8PolicyItem(name, limit, windowSeconds, partitionKey(key)), true),
        line('RateLimit', draft8LimitItem(name, remaining, resetAfter), true),
      ];
    }
    case 'draft-7':
    case 'draft-6':
      return draft7Or6Lines(mode, `${sfInteger(limit)};w=${windowSeconds}`, limit, remaining, resetAfter);
    case 'legacy':
      return [
        line('X-RateLimit-Limit', decimal(limit), false),
        line('X-RateLimit-Remaining', decimal(remaining), false),
        line('X-RateLimit-Reset', wholeSeconds(decision.timestamp + resetAfter), false),
      ];
    default:
      return [];
  }
}

/**
 * `rateLimitHeaders` for one limiter, in its header mode and under its policy name. In 'draft-8'
 * it keeps each client's RateLimit-Policy value (name, limit, window and partition key: fixed while
 * the client's limit is) so that a request only formats its RateLimit value; the lines are the same.
 */
export class RateLimitHeaders {
  readonly #mode: HeadersMode;
  readonly #policyName: string | undefined;
  /** Oldest first, so the first key is the one to drop. */
  readonly #policies = new Map<string, Draft8Policy>();

  constructor(mode: HeadersMode, policyName: string | undefined) {
    this.#mode = mode;
    this.#policyName = policyName === undefined ? undefined : policyNameText(policyName);
  }

  lines(decision: Decision, key: string): HeaderLine[] {
    if (this.#mode !== 'draft-8' || ((decision as Partial<PolicyDecision>).policies?.length ?? 0) > 1) {
      return headerLines(this.#mode, decision, key, this.#policyName);
    }
    const { limit, windowSeconds } = decision;
    let policy = this.#policies.get(key);
    if (policy === undefined || policy.limit !== limit || policy.windowSeconds !== windowSeconds) {
      const name = this.#policyName ?? defaultPolicyName(limit, windowSeconds);
      policy = { limit, windowSeconds, name, value: draft8PolicyItem(name, limit, windowSeconds, partitionKey(key)) };
      if (this.#policies.size >= PARTITION_KEY_CACHE_SIZE) this.#policies.delete(this.#policies.keys().next().value as string);
      this.#policies.set(key, policy);
    }
    return [line('RateLimit-Policy', policy.value, true), line('RateLimit', draft8LimitItem(policy.name, decision.remaining, decision.resetAfter), true)];
  }
}

/** One client's draft-8 policy name and RateLimit-Policy value. */
interface Draft8Policy {
  limit: number;
  windowSeconds: number;
  name: string;
  value: string;
}

/** A draft-8 RateLimit-Policy item: the policy's quota, window and partition key. */
function draft8PolicyItem(name: string, limit: number, windowSeconds: number, pk: string): string {
  return `"${name}"; q=${sfInteger(limit)}; w=${windowSeconds}; pk=:${pk}:`;
}

/** A draft-8 RateLimit item: what is left of the policy's quota and when it resets. */
function draft8LimitItem(name: string, remaining: number, resetAfter: number): string {
  // With nothing to trim, trim() returns the string flattened. Node checks every header value with a
  // regular expression, and V8 runs one on a string built by concatenation (not yet flat) through the
  // runtime: flattening first is cheaper (a value built and checked, in a loop: 142 ns, 89 ns with trim()).
  return `"${name}"; r=${sfInteger(remaining)}; t=${wholeSeconds(resetAfter)}`.trim();
}

/**
 * Several policies (policy mode): draft-8 lists every policy as its own RateLimit-Policy and
 * RateLimit item (the draft's fields are lists); draft-7 and draft-6 list them in RateLimit-Policy
 * and describe the binding policy in the rest. The binding policy comes first, then the others by
 * window, so a client that reads only the first item sees the one that limits it.
 */
function multiPolicyHeaders(
  mode: 'draft-8' | 'draft-7' | 'draft-6',
  decision: Decision,
  policies: readonly PolicyStatus[],
  key: string,
  policyName: string | undefined,
): HeaderLine[] {
  const bindingFirst = [...policies].sort((a, b) => Number(b.windowSeconds === decision.windowSeconds) - Number(a.windowSeconds === decision.windowSeconds));
  if (mode === 'draft-8') {
    const pk = partitionKey(key);
    const names = bindingFirst.map((p) => (policyName === undefined ? defaultPolicyName(p.limit, p.windowSeconds) : `${policyName}-${defaultPolicyName(p.limit, p.windowSeconds)}`));
    return [
      ...bindingFirst.map((p, i) => line('RateLimit-Policy', draft8PolicyItem(names[i] as string, p.limit, p.windowSeconds, pk), true)),
      ...bindingFirst.map((p, i) => line('RateLimit', draft8LimitItem(names[i] as string, p.remaining, p.resetAfter), true)),
    ];
  }
  const items = bindingFirst
    .filter((p) => !bindingFirst.some((q) => q !== p && dominates(q, p)))
    .map((p) => `${sfInteger(p.limit)};w=${p.windowSeconds}`)
    .join(', ');
  return draft7Or6Lines(mode, items, decision.limit, decision.remaining, decision.resetAfter);
}

/**
 * True when policy `a` makes `b` redundant: no more units in a window at least as long. Drafts 6 and 7
 * describe a client's quota by its limit, and two items with one limit (`10;w=1, 10;w=60`) give a client
 * two answers to "how many may I send"; the longer window is the one that binds, so only it is listed.
 */
function dominates(a: PolicyStatus, b: PolicyStatus): boolean {
  return a.limit <= b.limit && a.windowSeconds >= b.windowSeconds && (a.limit < b.limit || a.windowSeconds > b.windowSeconds);
}

/** draft-7 and draft-6: RateLimit-Policy (an item per policy), then the binding policy's limit, what is left and when it resets. */
function draft7Or6Lines(mode: 'draft-7' | 'draft-6', policies: string, limit: number, remaining: number, resetAfter: number): HeaderLine[] {
  const policy = line('RateLimit-Policy', policies, false);
  if (mode === 'draft-7') return [policy, line('RateLimit', `limit=${sfInteger(limit)}, remaining=${sfInteger(remaining)}, reset=${wholeSeconds(resetAfter)}`, false)];
  return [policy, line('RateLimit-Limit', sfInteger(limit), false), line('RateLimit-Remaining', sfInteger(remaining), false), line('RateLimit-Reset', wholeSeconds(resetAfter), false)];
}

/**
 * `Retry-After` for a denied decision, or undefined when none would be true: a request that
 * costs more than the limit (`retryAfter` is Infinity) is never allowed, and a client that
 * honours the header would only retry in vain.
 */
export function retryAfterHeader(decision: Decision): HeaderLine | undefined {
  if (!Number.isFinite(decision.retryAfter)) return undefined;
  // At least 1: a denied request waits at least 1 ms, and 'Retry-After: 0' would invite a retry storm.
  return line('Retry-After', decimal(Math.max(1, Math.ceil(decision.retryAfter))), false);
}

/** Seconds with ms precision (decisions) rounded up to the whole seconds headers carry. */
function wholeSeconds(seconds: number): string {
  return decimal(Math.ceil(seconds));
}

/** The names slidegate sends, each with its lower-case key. */
const HEADER_KEYS = {
  'RateLimit-Policy': 'ratelimit-policy',
  RateLimit: 'ratelimit',
  'RateLimit-Limit': 'ratelimit-limit',
  'RateLimit-Remaining': 'ratelimit-remaining',
  'RateLimit-Reset': 'ratelimit-reset',
  'X-RateLimit-Limit': 'x-ratelimit-limit',
  'X-RateLimit-Remaining': 'x-ratelimit-remaining',
  'X-RateLimit-Reset': 'x-ratelimit-reset',
  'Retry-After': 'retry-after',
} as const;

/**
 * One header line. Its `key` is a literal, which V8 interns: Node and Fastify lower-case every name they
 * are given (a name already in lower case comes back as it is) and use it as a key, which for a string
 * built at run time would mean a lookup in V8's string table each time.
 */
function line(name: keyof typeof HEADER_KEYS, value: string, append: boolean): HeaderLine {
  return { name, key: HEADER_KEYS[name], value, append };
}

/** express-rate-limit's default policy identifier: `100-in-1min`, `10-in-30sec`, `5-in-2hrs`, `1-in-1day`. */
export function defaultPolicyName(limit: number, windowSeconds: number): string {
  const minutes = windowSeconds / 60;
  const hours = windowSeconds / 3600;
  const days = windowSeconds / 86_400;
  if (windowSeconds < 60) return `${limit}-in-${windowSeconds}sec`;
  if (minutes < 60) return `${limit}-in-${minutes}min`;
  if (hours < 24) return `${limit}-in-${hours}hr${hours > 1 ? 's' : ''}`;
  return `${limit}-in-${days}day${days > 1 ? 's' : ''}`;
}

/**
 * draft-8's partition key, as express-rate-limit computes it: the first 12 hex digits of the
 * key's SHA-256, as a base64 byte sequence. It tells clients which quota they hit without
 * revealing the key (an IP or API key).
 */
export function partitionKey(key: string): string {
  let cached = partitionKeys.get(key);
  if (cached === undefined) {
    const hex = createHash('sha256').update(key).digest('hex').slice(0, 12);
    cached = Buffer.from(hex).toString('base64');
    // A hash costs more than the rest of a decision; recent clients are asked again and again.
    if (partitionKeys.size >= PARTITION_KEY_CACHE_SIZE) partitionKeys.delete(partitionKeys.keys().next().value as string);
    partitionKeys.set(key, cached);
  }
  return cached;
}

const PARTITION_KEY_CACHE_SIZE = 10_000;
/** Oldest first, so the first key is the one to drop. */
const partitionKeys = new Map<string, string>();
