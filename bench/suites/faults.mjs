// Suite `faults`: decision latency while Redis is down against healthy, and the time from Redis's
// return to the first decision made by the shared store again.
import { fileURLToPath } from 'node:url';
import { runInChild } from '../lib/child.mjs';
import { numberSetting } from '../lib/args.mjs';
import { detect, NOT_AVAILABLE } from '../lib/available.mjs';

const CASES = fileURLToPath(new URL('./faults-cases.mjs', import.meta.url));

export const title = 'Faults: decisions while Redis is down, and recovery';

export async function run({ quick, args, log }) {
  const settings = {
    phaseMs: numberSetting(args, 'faultsPhaseMs', { quick: 1000, full: 5000 }, quick),
    loops: numberSetting(args, 'faultsLoops', { quick: 16, full: 64 }, quick),
    recoveryCapMs: numberSetting(args, 'faultsRecoveryCapMs', { quick: 10_000, full: 15_000 }, quick),
  };
  const available = await detect();
  const missing = [!available.RedisStore && 'RedisStore', !available.failureMode && "RateLimiter's failureMode option"].filter(Boolean);
  if (missing.length > 0) {
    return {
      settings,
      tables: [
        {
          title: 'Faults',
          columns: [{ key: 'what', label: 'measurement', align: 'left' }, { key: 'status', label: 'status', align: 'left' }],
          rows: [
            'decision p50/p99 healthy vs. Redis killed (SIGKILL), failureMode local/open/closed',
            "time from Redis's return to the first decision from the shared store",
          ].map((what) => ({ what, status: `${NOT_AVAILABLE} (${missing.join(', ')})` })),
        },
      ],
      headline: {},
      notes: ['The measurement plan is coded in bench/suites/faults.mjs and faults-cases.mjs (a throwaway redis-server killed and restarted under load); it runs as soon as the build exports RedisStore and RateLimiter accepts `failureMode`.'],
    };
  }
  const rows = [];
  for (const failureMode of quick ? ['local'] : ['local', 'open', 'closed']) {
    log(`faults: Redis killed under load, failureMode '${failureMode}'`);
    const r = await runInChild(CASES, 'outage', { ...settings, failureMode }, { timeoutMs: 120_000 });
    rows.push({
      failureMode,
      healthy_p50_ms: r.healthy.p50_ms,
      healthy_p99_ms: r.healthy.p99_ms,
      outage_p50_ms: r.outage.p50_ms,
      outage_p99_ms: r.outage.p99_ms,
      outage_max_ms: r.outage.max_ms,
      outage_sources: JSON.stringify(r.outage.sources),
      recovery_ms: r.recovery_ms ?? `not within ${settings.recoveryCapMs} ms`,
      unanswered: r.unanswered,
      raw: r,
    });
  }
  const local = rows.find((r) => r.failureMode === 'local');
  return {
    settings,
    raw: { rows },
    tables: [
      {
        title: 'Targets (SPEC Faults)',
        columns: [{ key: 'target', label: 'target', align: 'left' }, { key: 'measured', label: 'measured', align: 'left' }, { key: 'met', label: 'met' }],
        rows: [
          { target: 'every decision within 250 ms while Redis is down (max)', measured: `${local.outage_max_ms} ms`, met: local.outage_max_ms <= 250 },
          { target: 'back on the shared store within 5 s of its recovery', measured: `${local.recovery_ms} ms`, met: typeof local.recovery_ms === 'number' && local.recovery_ms <= 5000 },
          { target: 'no call left unanswered (rejected)', measured: String(local.unanswered), met: local.unanswered === 0 },
        ],
      },
      {
        title: `Redis SIGKILLed under load (${settings.loops} loops, ${settings.phaseMs} ms healthy, ${settings.phaseMs} ms down, then restarted on the same port)`,
        columns: [
          { key: 'failureMode', label: 'failureMode', align: 'left' },
          { key: 'healthy_p50_ms', label: 'healthy p50 ms', digits: 4 },
          { key: 'healthy_p99_ms', label: 'healthy p99 ms', digits: 4 },
          { key: 'outage_p50_ms', label: 'outage p50 ms', digits: 4 },
          { key: 'outage_p99_ms', label: 'outage p99 ms', digits: 4 },
          { key: 'outage_max_ms', label: 'outage max ms', digits: 1 },
          { key: 'outage_sources', label: 'outage decisions by source', align: 'left' },
          { key: 'recovery_ms', label: 'recovery ms' },
          { key: 'unanswered', label: 'rejected calls' },
        ],
        rows,
      },
    ],
    headline: { outage_p99_ms: local.outage_p99_ms, healthy_p99_ms: local.healthy_p99_ms, recovery_ms: typeof local.recovery_ms === 'number' ? local.recovery_ms : null },
    notes: [
      'A redis-server started for this measurement on a free port (never the shared 6379), killed with SIGKILL by its pid and restarted on the same port.',
      'Recovery: from the spawn of the restarted redis-server (its own start-up included, so an upper bound) to the end of the first decision whose source is \'store\' again.',
    ],
  };
}
