// What an example server prints when it starts: the curl commands that show each route's limit.

/** @param {{ framework: string, base: string, description: string, env: Record<string, string | undefined>, adminToken: string, defaultAdminToken: string }} o */
export function tryItText({ framework, base, description, env, adminToken, defaultAdminToken }) {
  return `slidegate ${framework} example on ${base}, counting in ${description}

Try it:
  # public route, 10 requests a minute per client IP; the 11th is a 429 with Retry-After
  for i in $(seq 1 11); do curl -s -o /dev/null -w '%{http_code} ' ${base}/; done; echo
  curl -i ${base}/                                   # RateLimit and RateLimit-Policy headers (draft-8)

  # per-API-key route, 5 requests a minute per key
  for i in $(seq 1 6); do curl -s -o /dev/null -w '%{http_code} ' -H 'x-api-key: alice' ${base}/api/data; done; echo

  # give alice 100 a minute at run time (token from ADMIN_TOKEN${env.ADMIN_TOKEN ? '' : `, default '${defaultAdminToken}'`})
  curl -X POST -H 'authorization: Bearer ${env.ADMIN_TOKEN ? '$ADMIN_TOKEN' : adminToken}' -H 'content-type: application/json' \\
       -d '{"limit":100,"windowSeconds":60}' ${base}/admin/limits/alice
  curl -i -H 'x-api-key: alice' ${base}/api/data

  # what the limiters do: the live status page, ${base}/status in a browser; its JSON; Prometheus metrics
  curl -s ${base}/status.json
  curl -s ${base}/metrics | grep '^slidegate_decisions_total'
`;
}
