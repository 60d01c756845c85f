/**
 * The contract every Store must keep, as mocha suites that any store's test file can register:
 *
 *   describeStoreContract('MemoryStore', async (o) => ({ limiter: new RateLimiter({ ...o, store }), cleanup }));
 *
 * For a shared store (RedisStore) give the limiter `lease: false, denialCache: false`: the contract
 * compares the store's own decisions, and leases and the denial cache have tests of their own.
 *
 * Model-based property tests (fast-check) drive random sequences of check / isAllowed / updateLimit /
 * getLimit through a RateLimiter on the store and compare every field of every decision with the
 * plain reference model in ./model.ts ('sliding-window', 'sliding-log'), or with the SPEC's
 * two-counter formula and the bounds proven below ('sliding-counter'). Times are drawn to the ms
 * (late requests, bursts across second boundaries), with default buckets and `bucketMs` settings;
 * the admitted history is also checked against the SPEC's real-time guarantee (no window of W
 * holds more than L). Client ids carry a unique prefix per run, so a shared Redis can run the suite
 * beside other tests.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Algorithm, Decision, RateLimiter } from '../../src/index';
import { ExactWindowModel, mostInAnyWindow, msOf, SlidingCounterModel, type ModelDecision, type ModelLimit } from './model';

export interface MakeLimiterOptions {
  limit: number;
  windowSeconds: number;
  algorithm: Algorithm;
  /** The limiter's `bucketMs` option (undefined: the default buckets). */
  bucketMs?: number | undefined;
  /** The store's (and limiter's) own clock; the contract passes a fixed one so nothing expires mid-run. */
  now?: () => number;
}

export type MakeLimiter = (options: MakeLimiterOptions) => Promise<{ limiter: RateLimiter; cleanup: () => Promise<void> }>;

export interface StoreContractOptions {
  /** fast-check runs per property; lower it for slow stores. @default 100 */
  numRuns?: number;
  /** Longest random sequence of steps per run. @default 60 */
  maxSteps?: number;
}

/** The store's clock during every run: fixed, so that no key expires while a sequence runs. */
export const CONTRACT_NOW = 1_000_000;
const fixedNow = (): number => CONTRACT_NOW;

/** Windows from one second to the SPEC's maximum, with hours and a day between. */
const WINDOWS = [1, 2, 3, 5, 10, 60, 3600, 7200, 86_400, 31_536_000];
/** The counter model scans up to 2W seconds per decision, so its windows stay at most an hour. */
const COUNTER_WINDOWS = [1, 2, 3, 5, 7, 10, 60, 3600];

// ---- random steps ------------------------------------------------------------------------------

/** How far the test's clock moves before a request: some seconds or ms, or a multiple of the client's window +- 1 s or 1 ms. */
type Advance = { kind: 'seconds'; seconds: number } | { kind: 'window'; multiple: number; delta: number };
/** How late the request is against the test's clock (the limiter then evaluates it at the client's clock). */
type Lateness = { kind: 'none' } | { kind: 'seconds'; seconds: number } | { kind: 'window'; delta: number };
/** A fixed cost, or one near the client's limit (so that limit, limit + 1, ... are tried). */
type CostSpec = { kind: 'fixed'; cost: number } | { kind: 'nearLimit'; delta: number };

interface CheckStep {
  kind: 'check';
  client: number;
  advance: Advance;
  late: Lateness;
  /** Added to the time: ms matter, and fractions below a ms must be floored. */
  fraction: number;
  cost: CostSpec;
  via: 'check' | 'isAllowed';
  /** After a denial, re-check at e + retryAfter - 1 and e + retryAfter (and probe resetAfter read-only). */
  probe: boolean;
}

interface UpdateStep {
  kind: 'update';
  client: number;
  limit: number;
  windowSeconds: number;
  /** A second change right after the first, with no request between (e.g. shorten, then lengthen). */
  then?: { limit: number; windowSeconds: number | 'previous' } | undefined;
}

interface GetLimitStep {
  kind: 'getLimit';
  client: number;
}

type Step = CheckStep | UpdateStep | GetLimitStep;

interface Scenario {
  limit: number;
  windowSeconds: number;
  /** The limiter's bucketMs option, or undefined for the default buckets. */
  bucketMs: number | undefined;
  start: number;
  clients: number;
  steps: Step[];
}

const CLIENT_SLOTS = 4;

const limitArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) },
  { weight: 2, arbitrary: fc.integer({ min: 7, max: 60 }) },
);

const advanceArb: fc.Arbitrary<Advance> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('seconds' as const), seconds: fc.constantFrom(0, 0, 0, 0.001, 0.002, 0.016, 0.017, 0.5, 1, 1, 2, 3, 5) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('window' as const), multiple: fc.constantFrom(0, 1, 1, 2), delta: fc.constantFrom(-1, -0.001, 0, 0.001, 1) }),
  },
);

const latenessArb: fc.Arbitrary<Lateness> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('seconds' as const), seconds: fc.constantFrom(0.001, 0.003, 0.017, 1, 2, 4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('window' as const), delta: fc.constantFrom(-1, -0.001, 0, 0.001, 1) }) },
);

/** Default buckets most of the time; exact to the ms; and widths that divide or straddle seconds. */
const bucketMsArb = fc.constantFrom(undefined, undefined, undefined, 1, 1, 7, 250, 1000);

const costArb: fc.Arbitrary<CostSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('fixed' as const), cost: fc.constantFrom(1, 1, 1, 2, 3, 5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nearLimit' as const), delta: fc.constantFrom(-1, 0, 1, 2) }) },
);

function checkStepArb(): fc.Arbitrary<CheckStep> {
  return fc.record({
    kind: fc.constant('check' as const),
    client: fc.integer({ min: 0, max: CLIENT_SLOTS - 1 }),
    advance: advanceArb,
    late: latenessArb,
    fraction: fc.constantFrom(0, 0, 0, 0.001, 0.0169, 0.25, 0.998, 0.999, 0.999_999),
    cost: costArb,
    via: fc.constantFrom('check' as const, 'check' as const, 'isAllowed' as const),
    probe: fc.boolean(),
  });
}

function scenarioArb(windows: readonly number[], withUpdates: boolean, maxSteps: number): fc.Arbitrary<Scenario> {
  const steps: fc.Arbitrary<Step> = withUpdates
    ? fc.oneof(
        { weight: 8, arbitrary: checkStepArb() },
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant('update' as const),
            client: fc.integer({ min: 0, max: CLIENT_SLOTS - 1 }),
            limit: limitArb,
            windowSeconds: fc.constantFrom(...windows),
            then: fc.option(
              fc.record({ limit: limitArb, windowSeconds: fc.oneof(fc.constant('previous' as const), fc.constantFrom(...windows)) }),
              { nil: undefined, freq: 2 },
            ),
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('getLimit' as const), client: fc.integer({ min: 0, max: CLIENT_SLOTS - 1 }) }) },
      )
    : checkStepArb();
  return fc.record({
    limit: limitArb,
    windowSeconds: fc.constantFrom(...windows),
    bucketMs: bucketMsArb,
    // 0 and small times test the epoch's edge; the others are ordinary and odd alignments.
    start: fc.constantFrom(0, 1, 59, 3599, 1_699_999_999, 1_700_000_000, 4_294_967_301),
    clients: fc.integer({ min: 2, max: CLIENT_SLOTS }),
    steps: fc.array(steps, { minLength: 1, maxLength: maxSteps }),
  });
}

// ---- helpers -----------------------------------------------------------------------------------

let runSerial = 0;

/** Distinct ids per run; they include hash-tag braces, spaces and multi-byte characters on purpose. */
function clientIds(label: string, algorithm: Algorithm, count: number): string[] {
  const prefix = `contract:${label}:${algorithm}:${process.pid}:${Date.now()}:${++runSerial}:${Math.random().toString(36).slice(2)}`;
  const shapes = [':plain', ':{tag}braces', ':ünï€😀', ': space\nnewline'];
  return shapes.slice(0, count).map((shape) => prefix + shape);
}

function fieldsOf(decision: Decision): ModelDecision {
  const { allowed, limit, windowSeconds, remaining, retryAfter, resetAfter, timestamp, source } = decision;
  return { allowed, limit, windowSeconds, remaining, retryAfter, resetAfter, timestamp, source } as ModelDecision;
}

/** The one or two limit changes of an update step; 'previous' restores the window in force before the step. */
function changesOf(step: UpdateStep, before: ModelLimit): ModelLimit[] {
  const first = { limit: step.limit, windowSeconds: step.windowSeconds };
  if (step.then === undefined) return [first];
  const windowSeconds = step.then.windowSeconds === 'previous' ? before.windowSeconds : step.then.windowSeconds;
  return [first, { limit: step.then.limit, windowSeconds }];
}

/** How many decisions came from each source ('store', 'lease', 'fallback'). */
function countSources(decisions: readonly Decision[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of decisions) counts[d.source] = (counts[d.source] ?? 0) + 1;
  return counts;
}

/** Deep equality with both decisions printed in full (chai would truncate them). */
function expectSameDecision(actual: ModelDecision, expected: ModelDecision, context: string): void {
  const show = (d: ModelDecision): string => JSON.stringify(d, (_, v: unknown) => (v === Infinity ? 'Infinity' : v));
  expect(actual, `${context}\n      store: ${show(actual)}\n      model: ${show(expected)}\n`).to.deep.equal(expected);
}

/** Seconds with ms precision plus `deltaMs`, computed in whole ms so that no float sum floors a ms away. */
function plusMs(seconds: number, deltaMs: number): number {
  return (Math.round(seconds * 1000) + deltaMs) / 1000;
}

function resolveCost(spec: CostSpec, limit: number): number {
  return spec.kind === 'fixed' ? spec.cost : Math.max(1, limit + spec.delta);
}

function advanceBy(spec: Advance, windowSeconds: number): number {
  return spec.kind === 'seconds' ? spec.seconds : Math.max(0, spec.multiple * windowSeconds + spec.delta);
}

function lateBy(spec: Lateness, windowSeconds: number): number {
  if (spec.kind === 'none') return 0;
  return spec.kind === 'seconds' ? spec.seconds : Math.max(0, windowSeconds + spec.delta);
}

/**
 * Runs one check through the limiter (as `check` or as the seed's `isAllowed`) and returns the decision
 * as far as the call reveals it: `isAllowed` reveals only `allowed`.
 */
async function callLimiter(limiter: RateLimiter, clientId: string, timestamp: number, cost: number, via: 'check' | 'isAllowed'): Promise<Decision | boolean> {
  if (via === 'isAllowed' && cost === 1) return limiter.isAllowed(clientId, timestamp);
  const decision = await limiter.check(clientId, { timestamp, cost });
  expect((decision as Decision & { granted?: number }).granted ?? 0, 'a plain check is granted no lease units').to.equal(0);
  return decision;
}

/** A request of cost limit + 1 is always denied and so records nothing: it reads the state. */
function readOnlyCost(limit: number): number {
  return limit + 1;
}

// ---- the suites --------------------------------------------------------------------------------

export function describeStoreContract(label: string, makeLimiter: MakeLimiter, options: StoreContractOptions = {}): void {
  const numRuns = options.numRuns ?? 100;
  const maxSteps = options.maxSteps ?? 60;

  async function withLimiter<T>(o: Omit<MakeLimiterOptions, 'now'>, body: (limiter: RateLimiter) => Promise<T>): Promise<T> {
    const { limiter, cleanup } = await makeLimiter({ ...o, now: fixedNow });
    try {
      return await body(limiter);
    } finally {
      await cleanup();
    }
  }

  describe(`Store contract: ${label}`, function () {
    this.timeout(Math.max(60_000, numRuns * 1_000));

    for (const algorithm of ['sliding-window', 'sliding-log'] as const) {
      describe(`'${algorithm}' decides exactly as the reference model`, () => {
        it('every field of every decision matches the model over random check / isAllowed / updateLimit / getLimit sequences', async () => {
          await fc.assert(
            fc.asyncProperty(scenarioArb(WINDOWS, true, maxSteps), (scenario) => runExactScenario(label, algorithm, scenario, withLimiter)),
            { numRuns },
          );
        });

        it('without per-client limits too (default limits only, longer runs of checks)', async () => {
          await fc.assert(
            fc.asyncProperty(scenarioArb(WINDOWS, false, maxSteps), (scenario) => runExactScenario(label, algorithm, scenario, withLimiter)),
            { numRuns: Math.max(1, Math.ceil(numRuns / 2)) },
          );
        });
      });
    }

    describe("'sliding-counter' follows the SPEC's two-counter formula and its proven bounds", () => {
      it('every field of every decision matches the formula (default limits), and the admitted history keeps the bounds', async () => {
        await fc.assert(
          fc.asyncProperty(scenarioArb(COUNTER_WINDOWS, false, maxSteps), (scenario) => runCounterScenario(label, scenario, withLimiter)),
          { numRuns },
        );
      });

      it('decisions stay internally consistent across updateLimit (limit, window, clock, retryAfter and resetAfter semantics)', async () => {
        await fc.assert(
          fc.asyncProperty(scenarioArb(WINDOWS, true, maxSteps), (scenario) => runCounterConsistencyScenario(label, scenario, withLimiter)),
          { numRuns },
        );
      });
    });

    describe('concurrent checks behave as if made one after another', () => {
      for (const algorithm of ['sliding-window', 'sliding-log', 'sliding-counter'] as const) {
        it(`'${algorithm}': 10,000 checks in flight at once for one client with limit 1,000 allow exactly 1,000`, async () => {
          await withLimiter({ limit: 1000, windowSeconds: 60, algorithm }, async (limiter) => {
            const [clientId] = clientIds(label, algorithm, 1) as [string];
            const t = 1_700_000_030;
            const decisions = await Promise.all(Array.from({ length: 10_000 }, () => limiter.check(clientId, { timestamp: t })));
            expect(countSources(decisions), 'every decision made by the store itself').to.deep.equal({ store: 10_000 });
            const allowed = decisions.filter((d) => d.allowed);
            expect(allowed).to.have.length(1000);
            // Serial decisions hand out remaining = 999, 998, ..., 0 exactly once each.
            expect(allowed.map((d) => d.remaining).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i));
            expect(decisions.filter((d) => !d.allowed).every((d) => d.remaining === 0 && d.retryAfter >= 0.001)).to.equal(true);
            expect(await limiter.isAllowed(clientId, t)).to.equal(false);
          });
        });

        it(`'${algorithm}': 20,000 checks in flight for 50 clients at once (limit 100, costs 1 to 3) never admit more than each limit`, async () => {
          await withLimiter({ limit: 100, windowSeconds: 60, algorithm }, async (limiter) => {
            const ids = Array.from({ length: 50 }, (_, i) => `${clientIds(label, algorithm, 1)[0] as string}:${i}`);
            const t = 1_700_000_030;
            const calls = Array.from({ length: 20_000 }, (_, i) => ({ clientId: ids[i % ids.length] as string, cost: 1 + (Math.floor(i / 50) % 3) }));
            const decisions = await Promise.all(calls.map((c) => limiter.check(c.clientId, { timestamp: t, cost: c.cost })));
            expect(countSources(decisions), 'every decision made by the store itself').to.deep.equal({ store: 20_000 });
            for (const clientId of ids) {
              const mine = decisions.map((d, i) => ({ d, cost: calls[i]?.cost as number })).filter((_, i) => calls[i]?.clientId === clientId);
              const admitted = mine.filter((x) => x.d.allowed).reduce((sum, x) => sum + x.cost, 0);
              expect(admitted, clientId).to.be.at.most(100);
              // One after another, a request is denied only when it no longer fits: so every denied
              // cost exceeds what was left at the end, 100 - admitted.
              const deniedCosts = mine.filter((x) => !x.d.allowed).map((x) => x.cost);
              expect(Math.min(...deniedCosts), clientId).to.be.greaterThan(100 - admitted);
              expect(mine.filter((x) => x.d.allowed).map((x) => x.d.remaining).every((r) => r >= 0 && r < 100)).to.equal(true);
            }
          });
        });
      }
    });
  });
}

type WithLimiter = <T>(o: Omit<MakeLimiterOptions, 'now'>, body: (limiter: RateLimiter) => Promise<T>) => Promise<T>;

/** Probes the SPEC's meaning of retryAfter and resetAfter right after `decision`, with no other traffic between. */
interface Probe {
  check(timestamp: number, cost: number): Promise<Decision>;
}

async function probeRetryAndReset(decision: Decision, cost: number, probe: Probe, where: string): Promise<void> {
  const e = decision.timestamp;
  const L = decision.limit;
  // resetAfter, read-only (cost L + 1 records nothing): used() stays the same until e + resetAfter and falls then.
  const resetMs = Math.round(decision.resetAfter * 1000);
  const retryMs = Math.round(decision.retryAfter * 1000);
  if (decision.resetAfter === 0) {
    expect(decision.allowed, `${where}: resetAfter 0 means nothing is recorded, so the request was denied`).to.equal(false);
    expect(decision.remaining, `${where}: resetAfter 0 means nothing is used`).to.equal(L);
  } else {
    expect(resetMs, `${where}: resetAfter is whole ms, at least 1`).to.be.at.least(1);
    expect(resetMs / 1000, `${where}: resetAfter is whole ms`).to.equal(decision.resetAfter);
    if (resetMs > 1) {
      const before = await probe.check(plusMs(e, resetMs - 1), readOnlyCost(L));
      expect(before.remaining, `${where}: used() has not fallen at e + resetAfter - 1 ms`).to.equal(decision.remaining);
    }
    const at = await probe.check(plusMs(e, resetMs), readOnlyCost(L));
    // When used() may exceed L (a lowered limit), remaining is clamped at 0 and cannot show the fall.
    if (decision.allowed || decision.remaining > 0) {
      expect(at.remaining, `${where}: used() has fallen at e + resetAfter`).to.be.greaterThan(decision.remaining);
    } else {
      expect(at.remaining, `${where}: used() never rises with no traffic`).to.be.at.least(decision.remaining);
    }
  }
  // retryAfter: the same request is denied at e + retryAfter - 1 ms and allowed at e + retryAfter.
  if (!decision.allowed && Number.isFinite(decision.retryAfter)) {
    expect(retryMs, `${where}: retryAfter is whole ms, at least 1`).to.be.at.least(1);
    expect(retryMs / 1000, `${where}: retryAfter is whole ms`).to.equal(decision.retryAfter);
    if (retryMs > 1) {
      const early = await probe.check(plusMs(e, retryMs - 1), cost);
      expect(early.allowed, `${where}: denied at e + retryAfter - 1 ms = ${plusMs(e, retryMs - 1)}`).to.equal(false);
    }
    const later = await probe.check(plusMs(e, retryMs), cost);
    expect(later.allowed, `${where}: allowed at e + retryAfter = ${plusMs(e, retryMs)}`).to.equal(true);
  }
}

async function runExactScenario(label: string, algorithm: Algorithm, scenario: Scenario, withLimiter: WithLimiter): Promise<void> {
  const { bucketMs } = scenario;
  await withLimiter({ limit: scenario.limit, windowSeconds: scenario.windowSeconds, algorithm, bucketMs }, async (limiter) => {
    // SPEC: 'sliding-log' decides as 'sliding-window' with 1 ms buckets, whatever bucketMs says.
    const model = new ExactWindowModel({ limit: scenario.limit, windowSeconds: scenario.windowSeconds }, algorithm === 'sliding-log' ? 1 : bucketMs);
    const ids = clientIds(label, algorithm, scenario.clients);
    /** What the store admitted, per client, at effective times in ms: checked against the real-time guarantee. */
    const admitted = new Map<string, { at: number; cost: number }[]>(ids.map((id) => [id, []]));
    let limitsChanged = false;
    let cursor = scenario.start;
    for (const [index, step] of scenario.steps.entries()) {
      const clientId = ids[step.client % ids.length] as string;
      const where = `step ${index} ${JSON.stringify(step)}`;
      const compared = async (timestamp: number, cost: number, via: 'check' | 'isAllowed'): Promise<Decision | undefined> => {
        const expected = model.check(clientId, timestamp, cost);
        const actual = await callLimiter(limiter, clientId, timestamp, cost, via);
        const context = `${where}: ${via}(${JSON.stringify(clientId.slice(-12))}, t=${timestamp}, cost=${cost}) bucketMs=${String(bucketMs)}`;
        if (expected.allowed) admitted.get(clientId)?.push({ at: msOf(expected.timestamp), cost });
        if (typeof actual === 'boolean') {
          expect(actual, context).to.equal(expected.allowed);
          return undefined;
        }
        expectSameDecision(fieldsOf(actual), expected, context);
        return actual;
      };
      if (step.kind === 'update') {
        limitsChanged = true;
        for (const change of changesOf(step, model.limitOf(clientId))) {
          await limiter.updateLimit(clientId, change.limit, change.windowSeconds);
          model.updateLimit(clientId, change.limit, change.windowSeconds);
        }
      } else if (step.kind === 'getLimit') {
        expect(await limiter.getLimit(clientId), where).to.deep.equal(model.getLimit(clientId));
      } else {
        const { limit, windowSeconds } = model.limitOf(clientId);
        cursor += advanceBy(step.advance, windowSeconds);
        const timestamp = Math.max(0, cursor - lateBy(step.late, windowSeconds)) + step.fraction;
        const cost = resolveCost(step.cost, limit);
        const decision = await compared(timestamp, cost, step.via);
        if (decision !== undefined && step.probe) {
          await probeRetryAndReset(decision, cost, { check: async (t, c) => (await compared(t, c, 'check')) as Decision }, where);
          cursor = Math.max(cursor, model.clockOf(clientId) ?? 0);
        }
      }
    }
    // SPEC, the guarantee in real time: with one (L, W) throughout, no interval of W ms holds more than L.
    if (!limitsChanged) {
      for (const [clientId, history] of admitted) {
        expect(mostInAnyWindow(history, scenario.windowSeconds * 1000), `${clientId}: most admitted in any window of W`).to.be.at.most(scenario.limit);
      }
    }
  });
}

async function runCounterScenario(label: string, scenario: Scenario, withLimiter: WithLimiter): Promise<void> {
  const { limit: L, windowSeconds: W } = scenario;
  await withLimiter({ limit: L, windowSeconds: W, algorithm: 'sliding-counter' }, async (limiter) => {
    const model = new SlidingCounterModel({ limit: L, windowSeconds: W });
    const ids = clientIds(label, 'sliding-counter', scenario.clients);
    /** What the store admitted, per client, from its own decisions (not from the model). */
    const admitted = new Map<string, { at: number; cost: number }[]>(ids.map((id) => [id, []]));
    let cursor = scenario.start;
    for (const [index, step] of scenario.steps.entries()) {
      if (step.kind !== 'check') continue;
      const clientId = ids[step.client % ids.length] as string;
      const where = `step ${index} ${JSON.stringify(step)}`;
      const compared = async (timestamp: number, cost: number, via: 'check' | 'isAllowed'): Promise<Decision | undefined> => {
        const expected = model.check(clientId, timestamp, cost);
        const actual = await callLimiter(limiter, clientId, timestamp, cost, via);
        const context = `${where}: ${via}(t=${timestamp}, cost=${cost}) with L=${L}, W=${W}`;
        const allowed = typeof actual === 'boolean' ? actual : actual.allowed;
        if (allowed) admitted.get(clientId)?.push({ at: msOf(expected.timestamp), cost });
        if (typeof actual === 'boolean') {
          expect(actual, context).to.equal(expected.allowed);
          return undefined;
        }
        expectSameDecision(fieldsOf(actual), expected, context);
        return actual;
      };
      cursor += advanceBy(step.advance, W);
      const timestamp = Math.max(0, cursor - lateBy(step.late, W)) + step.fraction;
      const cost = resolveCost(step.cost, L);
      const decision = await compared(timestamp, cost, step.via);
      if (decision !== undefined && step.probe) {
        await probeRetryAndReset(decision, cost, { check: async (t, c) => (await compared(t, c, 'check')) as Decision }, where);
        cursor = Math.max(cursor, decision.timestamp);
      }
    }
    for (const [clientId, history] of admitted) expectCounterBounds(history, { limit: L, windowSeconds: W }, clientId);
  });
}

/**
 * The bounds of the two-counter approximation, for a fixed (L, W), on ms time (W below is W_ms and
 * times are ms), proven from its rule
 * "allowed iff floor(P * (W - j) / W + curr) + c <= L" at offset j = e mod W, where P is what the
 * previous aligned window admitted and curr what the current one admitted so far:
 *
 * 1. Aligned windows: the cost admitted at effective times in one aligned window [kW, kW + W) is
 *    <= L. (curr <= floor(estimate), so each admission keeps curr + c <= L.) It never admits more
 *    than a fixed-window limiter with the same L and W.
 * 2. Sliding windows: for every second s = kW + j, let C = what window k admitted up to s and
 *    A = what window k - 1 admitted inside (s - W, s] (its last W - j - 1 seconds). The last
 *    admission in window k at or before s, at an offset j' <= j, needed
 *    floor(P (W - j') / W) + C <= L, and floor(P (W - j') / W) >= floor(P (W - j) / W), so
 *        admitted in (s - W, s] = A + C <= L + max(0, A - floor(P (W - j) / W)).
 *    Consequences, checked too:
 *    a. When the previous window's admissions are not bunched at its end (A <= floor(P (W - j) / W),
 *       e.g. uniform traffic, whose share in those W - j - 1 seconds is P (W - j - 1) / W), the
 *       sliding window holds at most L: no over-admission at all.
 *    b. In every case A <= P <= L and P - floor(P (W - j) / W) = ceil(P j / W), so it holds at most
 *       L + ceil(P j / W) <= 2L - floor(L / W): under twice the limit, and exactly L when W = 1.
 * Each is checked at every admitted time s and at the last second of every aligned window.
 */
function expectCounterBounds(history: readonly { at: number; cost: number }[], limit: ModelLimit, clientId: string): void {
  const L = limit.limit;
  const W = limit.windowSeconds * 1000;
  const sum = (keep: (at: number) => boolean): number => history.filter((r) => keep(r.at)).reduce((total, r) => total + r.cost, 0);
  const inAligned = (k: number): number => sum((at) => Math.floor(at / W) === k);
  for (const k of new Set(history.map((r) => Math.floor(r.at / W)))) {
    expect(inAligned(k), `${clientId}: admitted in aligned window ${k} (W=${W}, L=${L})`).to.be.at.most(L);
  }
  const seconds = new Set<number>();
  for (const r of history) {
    seconds.add(r.at);
    seconds.add((Math.floor(r.at / W) + 1) * W - 1);
  }
  for (const s of seconds) {
    const k = Math.floor(s / W);
    const j = s - k * W;
    const P = inAligned(k - 1);
    const A = sum((at) => at > s - W && at < k * W);
    const inSliding = sum((at) => at > s - W && at <= s);
    const where = `${clientId}: admitted in (${s - W}, ${s}] with W=${W}, L=${L}, P=${P}, A=${A}`;
    const share = Math.floor((P * (W - j)) / W);
    expect(inSliding, where).to.be.at.most(L + Math.max(0, A - share));
    if (A <= share) expect(inSliding, `${where}: not bunched, so at most L`).to.be.at.most(L);
    expect(inSliding, where).to.be.at.most(L + Math.ceil((P * j) / W));
    expect(L + Math.ceil((P * j) / W)).to.be.at.most(2 * L - Math.floor(L / W));
  }
}

/** Per-client limits under the counter: the figures must still be consistent with each other and with the SPEC. */
async function runCounterConsistencyScenario(label: string, scenario: Scenario, withLimiter: WithLimiter): Promise<void> {
  await withLimiter({ limit: scenario.limit, windowSeconds: scenario.windowSeconds, algorithm: 'sliding-counter' }, async (limiter) => {
    const defaults: ModelLimit = { limit: scenario.limit, windowSeconds: scenario.windowSeconds };
    const ids = clientIds(label, 'sliding-counter', scenario.clients);
    const own = new Map<string, ModelLimit>();
    const clock = new Map<string, number>();
    let cursor = scenario.start;
    for (const [index, step] of scenario.steps.entries()) {
      const clientId = ids[step.client % ids.length] as string;
      const where = `step ${index} ${JSON.stringify(step)}`;
      const limitOf = (): ModelLimit => own.get(clientId) ?? defaults;
      const checked = async (timestamp: number, cost: number, via: 'check' | 'isAllowed'): Promise<Decision | undefined> => {
        const { limit: L, windowSeconds: W } = limitOf();
        const actual = await callLimiter(limiter, clientId, timestamp, cost, via);
        const allowed = typeof actual === 'boolean' ? actual : actual.allowed;
        const T = clock.get(clientId);
        const e = T === undefined ? msOf(timestamp) : Math.max(msOf(timestamp), T);
        if (allowed) clock.set(clientId, e);
        const context = `${where}: ${via}(t=${timestamp}, cost=${cost}) with L=${L}, W=${W}`;
        if (cost > L) expect(allowed, `${context}: cost > limit is never allowed`).to.equal(false);
        if (typeof actual === 'boolean') return undefined;
        expect(actual, context).to.include({ limit: L, windowSeconds: W, timestamp: e / 1000, source: 'store' });
        expect(Number.isInteger(actual.remaining) && actual.remaining >= 0 && actual.remaining <= L, `${context}: remaining in 0..L`).to.equal(true);
        if (actual.allowed) {
          expect(actual.retryAfter, context).to.equal(0);
          expect(actual.remaining, `${context}: an allowed request leaves at most L - cost`).to.be.at.most(L - cost);
          expect(actual.resetAfter, `${context}: an allowed request is recorded, so used() falls later`).to.be.at.least(0.001);
        } else if (cost > L) {
          expect(actual.retryAfter, context).to.equal(Infinity);
        } else {
          const retryMs = Math.round(actual.retryAfter * 1000);
          expect(retryMs / 1000 === actual.retryAfter && retryMs >= 1, `${context}: retryAfter ${actual.retryAfter} is whole ms, at least 1`).to.equal(true);
          // Both aligned windows have passed after 2W seconds: the estimate is 0 then.
          expect(actual.retryAfter, `${context}: retryAfter within 2W`).to.be.at.most(2 * W);
        }
        expect(actual.resetAfter, `${context}: resetAfter within 2W`).to.be.within(0, 2 * W);
        return actual;
      };
      if (step.kind === 'update') {
        for (const change of changesOf(step, limitOf())) {
          await limiter.updateLimit(clientId, change.limit, change.windowSeconds);
          own.set(clientId, change);
        }
      } else if (step.kind === 'getLimit') {
        expect(await limiter.getLimit(clientId), where).to.deep.equal(limitOf());
      } else {
        const { limit, windowSeconds } = limitOf();
        cursor += advanceBy(step.advance, windowSeconds);
        const timestamp = Math.max(0, cursor - lateBy(step.late, windowSeconds)) + step.fraction;
        const cost = resolveCost(step.cost, limit);
        const decision = await checked(timestamp, cost, step.via);
        if (decision !== undefined && step.probe) {
          await probeRetryAndReset(decision, cost, { check: async (t, c) => (await checked(t, c, 'check')) as Decision }, where);
          cursor = Math.max(cursor, (clock.get(clientId) ?? 0) / 1000);
        }
      }
    }
  });
}
