/**
 * DELETE_LIMIT: SET_LIMIT to the defaults, except that the config key is deleted instead of written.
 * Same KEYS and ARGV as SET_LIMIT (ARGV[2], ARGV[3]: the default limit and window), so the counts
 * move back to the default window under the very rule SET_LIMIT applies, the change is published
 * on the same channel, and the config goes, all in one atomic script. Derived from SET_LIMIT's
 * source rather than copied, so the two can never disagree about the window-change rule.
 */
const WRITE_CONFIG = "redis.call('HSET', KEYS[1], 'L', ARGV[2], 'W', ARGV[3])";

export function deleteLimitScript(setLimit: string): string {
  if (setLimit.split(WRITE_CONFIG).length !== 2) {
    // Fails at load time, in every test, if SET_LIMIT stops writing the config this way.
    throw new Error('slidegate: SET_LIMIT no longer writes the config with one HSET; update delete-limit-script.ts');
  }
  return setLimit.replace(WRITE_CONFIG, "redis.call('DEL', KEYS[1])");
}
