/**
 * Forgets one client's counts and clock under every algorithm and in policy mode, in one atomic step
 * (`Store.reset`). Its own limit (the config key) stays. Every key shares the client's hash tag, so on
 * a Cluster the policy window keys named here live in the slot of the declared keys.
 *
 * KEYS[1] {tag}sw2   sliding-window counts
 * KEYS[2] {tag}sl2   sliding-log entries
 * KEYS[3] {tag}slm2  sliding-log meta
 * KEYS[4] {tag}sc2   sliding-counter counts
 * KEYS[5] {tag}pm2   policy meta: the windows 'W1,W2,...' whose keys {tag}pw2:<W> hold policy counts
 * ARGV[1] {tag}     the start of every key of the client
 */
export const RESET_CLIENT = `
local meta = redis.call('GET', KEYS[5])
if meta then
  for w in string.gmatch(meta, '[^,]+') do redis.call('DEL', ARGV[1] .. 'pw2:' .. w) end
end
return redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
`;

export const RESET_CLIENT_COMMAND = 'slidegateResetClientV2';
