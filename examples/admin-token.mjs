// The admin routes' guard, shared by the three examples: the token, its check, and the limit on attempts.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The admin token when ADMIN_TOKEN is not set: published in this repository, so for a laptop only. */
export const DEFAULT_ADMIN_TOKEN = 'dev-admin-token';

/** Admin requests per client IP: enough for an operator, far too few to guess a token. */
export const ADMIN_LIMIT = { limit: 10, windowSeconds: 60 };

/**
 * ADMIN_TOKEN from the environment. Without it: refuses to start when NODE_ENV is 'production', and otherwise
 * falls back to the published default with a loud warning on stderr.
 */
export function adminTokenFromEnv(env = process.env) {
  if (env.ADMIN_TOKEN) return env.ADMIN_TOKEN;
  if (env.NODE_ENV === 'production') {
    throw new Error(
      'ADMIN_TOKEN is not set and NODE_ENV is production: refusing to start with the published default admin token. ' +
        'Set ADMIN_TOKEN to a long random secret (e.g. `openssl rand -hex 32`).',
    );
  }
  console.warn(
    `\n  WARNING: ADMIN_TOKEN is not set, so the admin routes accept the published default token '${DEFAULT_ADMIN_TOKEN}'.\n` +
      '  Anyone who can reach this service can change its limits. Set ADMIN_TOKEN (it is required when NODE_ENV=production).\n',
  );
  return DEFAULT_ADMIN_TOKEN;
}

const digest = (value) => createHash('sha256').update(value).digest();

/** True when an Authorization header carries `Bearer <token>`, compared in constant time. */
export function isAdminRequest(authorization, token) {
  if (typeof authorization !== 'string') return false;
  return timingSafeEqual(digest(authorization), digest(`Bearer ${token}`));
}
