/**
 * Shared by the header property tests: every rate-limit header value must parse as the structured
 * field its draft defines (RFC 9651, with the `structured-headers` package).
 */
import { parseDictionary, parseItem, parseList } from 'structured-headers';

/** The structured-field type of each header a draft mode sends; legacy X- headers and Retry-After are not structured fields. */
const FIELD_TYPES: Record<string, 'list' | 'dictionary' | 'item'> = {
  'ratelimit-policy': 'list',
  'ratelimit-limit': 'item',
  'ratelimit-remaining': 'item',
  'ratelimit-reset': 'item',
};

/** Throws unless `value` (as received: one string, or several lines) parses as the field `name` of `mode`. */
export function assertStructured(mode: 'draft-6' | 'draft-7' | 'draft-8', name: string, value: string | string[]): void {
  const text = Array.isArray(value) ? value.join(', ') : value;
  const type = name === 'ratelimit' ? (mode === 'draft-7' ? 'dictionary' : 'list') : FIELD_TYPES[name];
  if (type === undefined) return;
  if (type === 'list') parseList(text);
  else if (type === 'dictionary') parseDictionary(text);
  else parseItem(text);
}

/** Node's own check of a header value (what turns a bad one into ERR_INVALID_CHAR and a 500). */
export function assertSendable(value: string): void {
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) throw new Error(`not a valid HTTP header value: ${JSON.stringify(value)}`);
}
