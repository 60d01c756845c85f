import { expect } from 'chai';
import { ErrorCodes, MAX_TIMESTAMP, MAX_WINDOW_SECONDS, MemoryStore, RateLimiter, type Decision } from '../src/index';

type ErrorClass = typeof TypeError | typeof RangeError;

/** Asserts the error's exact class (TypeError vs RangeError), its stable code, and the words of its message. */
function expectBadInput(error: unknown, kind: ErrorClass, code: string, parts: readonly string[]): void {
  expect(error, 'an error was thrown').to.be.instanceOf(Error);
  const e = error as Error & { code?: string };
  expect(e.constructor, `${e.constructor.name}: ${e.message}`).to.equal(kind);
  expect(e.code, e.message).to.equal(code);
  for (const part of parts) expect(e.message).to.include(part);
}

function expectThrows(call: () => unknown, kind: ErrorClass, code: string, parts: readonly string[]): void {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expectBadInput(thrown, kind, code, parts);
}

/** Calls on a limiter never throw synchronously: bad input comes back as a rejected promise. */
async function expectRejects(call: () => Promise<unknown>, kind: ErrorClass, code: string, parts: readonly string[]): Promise<void> {
  let promise: Promise<unknown> | undefined;
  expect(() => {
    promise = call();
  }, 'no synchronous throw').not.to.throw();
  let rejected: unknown;
  try {
    await promise;
  } catch (error) {
    rejected = error;
  }
  expectBadInput(rejected, kind, code, parts);
}

const T = TypeError;
const R = RangeError;
const OPTION = ErrorCodes.INVALID_OPTION;
const ARGUMENT = ErrorCodes.INVALID_ARGUMENT;

/** 1,025 bytes of UTF-8 made of multi-byte characters: 512 two-byte 'é' and one 'a'. */
const ID_1025_BYTES = `${'é'.repeat(512)}a`;
/** 1,025 bytes again, of four-byte characters (surrogate pairs). */
const ID_1025_BYTES_EMOJI = `${'😀'.repeat(256)}a`;

describe('validation: RateLimiter options', () => {
  const base = { limit: 10, windowSeconds: 60 };
  const cases: [string, unknown, ErrorClass, string[]][] = [
    ['options missing', undefined, T, ['RateLimiter options must be an object', 'got undefined']],
    ['options null', null, T, ['RateLimiter options', 'got null']],
    ['options an array', [], T, ['RateLimiter options', 'an array']],
    ['options a string', '10/60', T, ['RateLimiter options', 'string "10/60"']],
    ['limit missing', { windowSeconds: 60 }, T, ['options.limit', 'required']],
    ['windowSeconds missing', { limit: 10 }, T, ['options.windowSeconds', 'required']],
    ['limit a string', { ...base, limit: '10' }, T, ['options.limit', 'string "10"']],
    ['limit null', { ...base, limit: null }, T, ['options.limit', 'null']],
    ['limit a boolean', { ...base, limit: true }, T, ['options.limit', 'boolean true']],
    ['limit negative', { ...base, limit: -1 }, R, ['options.limit', 'number -1']],
    ['limit fractional', { ...base, limit: 1.5 }, R, ['options.limit', 'number 1.5']],
    ['limit NaN', { ...base, limit: NaN }, R, ['options.limit', 'number NaN']],
    ['limit Infinity', { ...base, limit: Infinity }, R, ['options.limit', 'number Infinity']],
    ['limit above 2^53', { ...base, limit: 2 ** 53 }, R, ['options.limit', `number ${2 ** 53}`]],
    ['windowSeconds a string', { ...base, windowSeconds: '60' }, T, ['options.windowSeconds', 'string "60"']],
    ['windowSeconds 0', { ...base, windowSeconds: 0 }, R, ['options.windowSeconds', 'number 0']],
    ['windowSeconds negative', { ...base, windowSeconds: -5 }, R, ['options.windowSeconds', 'number -5']],
    ['windowSeconds fractional', { ...base, windowSeconds: 1.5 }, R, ['options.windowSeconds', 'number 1.5']],
    ['windowSeconds NaN', { ...base, windowSeconds: NaN }, R, ['options.windowSeconds', 'number NaN']],
    ['windowSeconds above a year', { ...base, windowSeconds: MAX_WINDOW_SECONDS + 1 }, R, ['options.windowSeconds', `number ${MAX_WINDOW_SECONDS + 1}`]],
    ['algorithm unknown', { ...base, algorithm: 'fixed-window' }, R, ['options.algorithm', 'string "fixed-window"', "'sliding-window'"]],
    ['algorithm a number', { ...base, algorithm: 1 }, T, ['options.algorithm', 'number 1']],
    ['now not a function', { ...base, now: 5 }, T, ['options.now', 'number 5']],
    ['now a string', { ...base, now: 'Date.now' }, T, ['options.now', 'string "Date.now"']],
    ['store a number', { ...base, store: 5 }, T, ['options.store', 'number 5']],
    ['store null', { ...base, store: null }, T, ['options.store', 'null']],
    ['store without the Store methods', { ...base, store: {} }, T, ['options.store', 'check()']],
    ['an unknown option (a typo)', { ...base, windowMs: 60_000 }, T, ['unknown option', 'windowMs']],
  ];
  for (const [name, options, kind, parts] of cases) {
    it(`${name}: ${kind.name} ${OPTION} naming the option and the value`, () => {
      expectThrows(() => new RateLimiter(options as never), kind, OPTION, parts);
    });
  }

  it('accepts the edges of every range: limit 0, window 1 and window 31,536,000', async () => {
    for (const [limit, windowSeconds] of [
      [0, 1],
      [0, MAX_WINDOW_SECONDS],
      [Number.MAX_SAFE_INTEGER, 1],
    ] as const) {
      const limiter = new RateLimiter({ limit, windowSeconds });
      expect((await limiter.check('a', { timestamp: 5 })).allowed).to.equal(limit > 0);
      await limiter.close();
    }
  });

  it("never mutates the caller's options object (frozen objects work, and nothing is added)", async () => {
    const options = Object.freeze({ limit: 2, windowSeconds: 10, algorithm: 'sliding-log' as const });
    const limiter = new RateLimiter(options);
    expect(options).to.deep.equal({ limit: 2, windowSeconds: 10, algorithm: 'sliding-log' });
    const checkOptions = Object.freeze({ timestamp: 100.7, cost: 2 });
    expect(await limiter.check('a', checkOptions)).to.include({ allowed: true, timestamp: 100.7 });
    expect(checkOptions).to.deep.equal({ timestamp: 100.7, cost: 2 });
    await limiter.close();
    const storeOptions = Object.freeze({ maxClients: 5, sweepIntervalMs: 0 });
    await new MemoryStore(storeOptions).close();
    expect(storeOptions).to.deep.equal({ maxClients: 5, sweepIntervalMs: 0 });
  });
});

describe('validation: MemoryStore options', () => {
  const cases: [string, unknown, ErrorClass, string[]][] = [
    ['options null', null, T, ['MemoryStore options', 'null']],
    ['options a number', 5, T, ['MemoryStore options', 'number 5']],
    ['an unknown option', { max: 5 }, T, ['unknown option', 'MemoryStore options.max']],
    ['maxClients 0', { maxClients: 0 }, R, ['MemoryStore options.maxClients', 'number 0']],
    ['maxClients negative', { maxClients: -1 }, R, ['MemoryStore options.maxClients', 'number -1']],
    ['maxClients fractional', { maxClients: 1.5 }, R, ['MemoryStore options.maxClients', 'number 1.5']],
    ['maxClients NaN', { maxClients: NaN }, R, ['MemoryStore options.maxClients', 'number NaN']],
    ['maxClients a string', { maxClients: '10' }, T, ['MemoryStore options.maxClients', 'string "10"']],
    ['now not a function', { now: 5 }, T, ['MemoryStore options.now', 'number 5']],
    ['sweepIntervalMs negative', { sweepIntervalMs: -1 }, R, ['MemoryStore options.sweepIntervalMs', 'number -1']],
    ['sweepIntervalMs fractional', { sweepIntervalMs: 1.5 }, R, ['MemoryStore options.sweepIntervalMs', 'number 1.5']],
    ['sweepIntervalMs a string', { sweepIntervalMs: '5' }, T, ['MemoryStore options.sweepIntervalMs', 'string "5"']],
  ];
  for (const [name, options, kind, parts] of cases) {
    it(`${name}: ${kind.name} ${OPTION} naming the option and the value`, () => {
      expectThrows(() => new MemoryStore(options as never), kind, OPTION, parts);
    });
  }

  it('accepts no options, maxClients 1 and sweepIntervalMs 0 (no sweep timer)', async () => {
    await new MemoryStore().close();
    await new MemoryStore({ maxClients: 1, sweepIntervalMs: 0 }).close();
  });
});

/**
 * Every bad call is made between the same requests on two limiters, one of which never sees it;
 * the decisions that follow, and the client's limit, must be identical: a refused call changed nothing.
 */
async function expectBadCallChangesNothing(badCall: (limiter: RateLimiter) => Promise<unknown>): Promise<void> {
  const run = async (withBadCall: boolean): Promise<unknown[]> => {
    const limiter = new RateLimiter({ limit: 3, windowSeconds: 10, now: () => 1_000 });
    const seen: unknown[] = [];
    seen.push(await limiter.check('a', { timestamp: 100, cost: 2 }));
    if (withBadCall) await badCall(limiter).then(
      () => expect.fail('the bad call was accepted'),
      () => undefined,
    );
    seen.push(await limiter.check('a', { timestamp: 101 }));
    seen.push(await limiter.check('a', { timestamp: 101 }));
    seen.push(await limiter.getLimit('a'));
    seen.push(await limiter.check('b', { timestamp: 101, cost: 3 }));
    await limiter.close();
    return seen;
  };
  const control = await run(false);
  expect(control[1]).to.include({ allowed: true, remaining: 0 });
  expect(await run(true)).to.deep.equal(control);
}

describe('validation: calls', () => {
  const badClientIds: [string, unknown, ErrorClass, string[]][] = [
    ['a number', 5, T, ['clientId', 'number 5']],
    ['undefined', undefined, T, ['clientId', 'undefined']],
    ['null', null, T, ['clientId', 'null']],
    ['an object', { id: 'a' }, T, ['clientId', 'an object']],
    ['empty', '', R, ['clientId', '(0 bytes)']],
    ['1,025 bytes of two-byte characters', ID_1025_BYTES, R, ['clientId', '1025 bytes']],
    ['1,025 bytes of four-byte characters', ID_1025_BYTES_EMOJI, R, ['clientId', '1025 bytes']],
    ['1,026 bytes of three-byte characters (342 of them)', '€'.repeat(342), R, ['clientId', '1026 bytes']],
  ];
  const calls: [string, (limiter: RateLimiter, clientId: unknown) => Promise<unknown>][] = [
    ['check', (l, id) => l.check(id as string, { timestamp: 100 })],
    ['isAllowed', (l, id) => l.isAllowed(id as string, 100)],
    ['updateLimit', (l, id) => l.updateLimit(id as string, 1, 10)],
    ['getLimit', (l, id) => l.getLimit(id as string)],
  ];
  for (const [callName, call] of calls) {
    for (const [name, clientId, kind, parts] of badClientIds) {
      it(`${callName}: clientId ${name} is a ${kind.name} naming clientId and the value, and changes nothing`, async () => {
        const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
        await expectRejects(() => call(limiter, clientId), kind, ARGUMENT, parts);
        await limiter.close();
        await expectBadCallChangesNothing((l) => call(l, clientId));
      });
    }
  }

  it('accepts client ids of exactly 1,024 bytes, of multi-byte characters too', async () => {
    const limiter = new RateLimiter({ limit: 1, windowSeconds: 10 });
    for (const id of ['é'.repeat(512), '😀'.repeat(256), `${'€'.repeat(341)}a`, 'x'.repeat(1024), '{tag}:\u0000 \n']) {
      expect((await limiter.check(id, { timestamp: 1 })).allowed, id.slice(0, 8)).to.equal(true);
      expect((await limiter.check(id, { timestamp: 1 })).allowed, id.slice(0, 8)).to.equal(false);
    }
    await limiter.close();
  });

  const checkCases: [string, unknown, ErrorClass, string[]][] = [
    ['timestamp NaN', { timestamp: NaN }, R, ['timestamp', 'number NaN']],
    ['timestamp Infinity', { timestamp: Infinity }, R, ['timestamp', 'number Infinity']],
    ['timestamp -Infinity', { timestamp: -Infinity }, R, ['timestamp', 'number -Infinity']],
    ['timestamp negative', { timestamp: -1 }, R, ['timestamp', 'number -1']],
    ['timestamp slightly negative', { timestamp: -0.5 }, R, ['timestamp', 'number -0.5']],
    ['timestamp past the latest exact time', { timestamp: MAX_TIMESTAMP + 1 }, R, ['timestamp', `number ${MAX_TIMESTAMP + 1}`]],
    ['timestamp a string', { timestamp: '1700000000' }, T, ['timestamp', 'string "1700000000"']],
    ['timestamp null', { timestamp: null }, T, ['timestamp', 'null']],
    ['timestamp a Date', { timestamp: new Date(0) }, T, ['timestamp', 'an object']],
    ['cost 0', { cost: 0 }, R, ['cost', 'number 0']],
    ['cost fractional', { cost: 1.5 }, R, ['cost', 'number 1.5']],
    ['cost negative', { cost: -1 }, R, ['cost', 'number -1']],
    ['cost NaN', { cost: NaN }, R, ['cost', 'number NaN']],
    ['cost Infinity', { cost: Infinity }, R, ['cost', 'number Infinity']],
    ['cost above 2^53', { cost: 2 ** 53 }, R, ['cost', `number ${2 ** 53}`]],
    ['cost a string', { cost: '1' }, T, ['cost', 'string "1"']],
    ['cost null', { cost: null }, T, ['cost', 'null']],
    ['an unknown option (a typo of cost)', { cots: 5 }, T, ['check options.cots', 'timestamp, cost']],
    ['timestamp in milliseconds (Date.now())', { timestamp: Date.now() }, R, ['check options.timestamp', 'maxClockSkewSeconds (300)', 'milliseconds']],
    ['timestamp an hour ahead of the clock', { timestamp: Date.now() / 1000 + 3600 }, R, ['check options.timestamp', 'ahead', 'maxClockSkewSeconds (300)']],
    ['options a number', 5, T, ['check options', 'number 5']],
    ['options a string', 'x', T, ['check options', 'string "x"']],
    ['options null', null, T, ['check options', 'null']],
    ['options an array', [], T, ['check options', 'an array']],
    ['options a boolean', true, T, ['check options', 'boolean true']],
  ];
  for (const [name, options, kind, parts] of checkCases) {
    it(`check: ${name} is a ${kind.name} naming the argument and the value, and changes nothing`, async () => {
      const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
      await expectRejects(() => limiter.check('a', options as never), kind, ARGUMENT, parts);
      await limiter.close();
      await expectBadCallChangesNothing((l) => l.check('a', options as never));
    });
  }

  describe('check options that used to be silent defaults', () => {
    it('cost misspelt is refused, where it was taken as cost 1', async () => {
      const limiter = new RateLimiter({ limit: 5, windowSeconds: 60 });
      await expectRejects(() => limiter.check('c', { cots: 5 } as never), T, ARGUMENT, ['unknown option check options.cots']);
      expect((await limiter.check('c', { cost: 5 })).remaining, 'nothing was recorded by the refused call').to.equal(0);
      await limiter.close();
    });

    it('a millisecond timestamp is refused before it can lock the client out for a window; the limiter stays usable', async () => {
      const limiter = new RateLimiter({ limit: 2, windowSeconds: 60 });
      await expectRejects(() => limiter.check('ms', { timestamp: Date.now() }), R, ARGUMENT, ['Date.now() / 1000']);
      await expectRejects(() => limiter.isAllowed('ms', Date.now()), R, ARGUMENT, ['milliseconds']);
      // Before the bound, the client's clock moved ~55,000 years ahead and every real-time request was denied.
      expect((await limiter.check('ms')).allowed).to.equal(true);
      expect((await limiter.check('ms', { timestamp: Date.now() / 1000 })).allowed).to.equal(true);
      await limiter.close();
    });

    it('replays of old timestamps stay allowed; the bound follows the injected clock and the option', async () => {
      let now = 1_700_000_000;
      const limiter = new RateLimiter({ limit: 10, windowSeconds: 60, now: () => now, maxClockSkewSeconds: 5 });
      expect((await limiter.check('r', { timestamp: 1 })).allowed, 'a timestamp from 1970').to.equal(true);
      expect((await limiter.check('r', { timestamp: now + 5 })).allowed, 'exactly the tolerance').to.equal(true);
      await expectRejects(() => limiter.check('r', { timestamp: now + 6 }), R, ARGUMENT, ['maxClockSkewSeconds (5)']);
      now += 10;
      expect((await limiter.check('r', { timestamp: now + 4 })).allowed, 'the bound moves with the clock').to.equal(true);
      await limiter.close();
      const unbounded = new RateLimiter({ limit: 1, windowSeconds: 1, maxClockSkewSeconds: Infinity });
      expect((await unbounded.check('u', { timestamp: MAX_TIMESTAMP })).allowed, 'Infinity turns the bound off').to.equal(true);
      await unbounded.close();
    });

    it('maxClockSkewSeconds is validated at construction', () => {
      expectThrows(() => new RateLimiter({ limit: 1, windowSeconds: 1, maxClockSkewSeconds: -1 }), R, OPTION, ['maxClockSkewSeconds', 'number -1']);
      expectThrows(() => new RateLimiter({ limit: 1, windowSeconds: 1, maxClockSkewSeconds: '300' as never }), T, OPTION, ['maxClockSkewSeconds', 'string "300"']);
    });
  });

  const isAllowedCases: [string, unknown, ErrorClass, string[]][] = [
    ['timestamp NaN', NaN, R, ['timestamp', 'number NaN']],
    ['timestamp negative', -3, R, ['timestamp', 'number -3']],
    ['timestamp a string', '100', T, ['timestamp', 'string "100"']],
    ['timestamp null', null, T, ['timestamp', 'null']],
  ];
  for (const [name, timestamp, kind, parts] of isAllowedCases) {
    it(`isAllowed: ${name} is a ${kind.name} naming the timestamp and the value, and changes nothing`, async () => {
      const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
      await expectRejects(() => limiter.isAllowed('a', timestamp as never), kind, ARGUMENT, parts);
      await limiter.close();
      await expectBadCallChangesNothing((l) => l.isAllowed('a', timestamp as never));
    });
  }

  const updateCases: [string, unknown, unknown, ErrorClass, string[]][] = [
    ['limit a string', '5', 10, T, ['limit', 'string "5"']],
    ['limit missing', undefined, 10, T, ['limit', 'undefined']],
    ['limit negative', -1, 10, R, ['limit', 'number -1']],
    ['limit fractional', 2.5, 10, R, ['limit', 'number 2.5']],
    ['limit NaN', NaN, 10, R, ['limit', 'number NaN']],
    ['windowSeconds a string', 5, '10', T, ['windowSeconds', 'string "10"']],
    ['windowSeconds missing', 5, undefined, T, ['windowSeconds', 'undefined']],
    ['windowSeconds 0', 5, 0, R, ['windowSeconds', 'number 0']],
    ['windowSeconds fractional', 5, 0.5, R, ['windowSeconds', 'number 0.5']],
    ['windowSeconds above a year', 5, MAX_WINDOW_SECONDS + 1, R, ['windowSeconds', `number ${MAX_WINDOW_SECONDS + 1}`]],
  ];
  for (const [name, limit, windowSeconds, kind, parts] of updateCases) {
    it(`updateLimit: ${name} is a ${kind.name} naming the argument and the value, and changes nothing`, async () => {
      const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
      await expectRejects(() => limiter.updateLimit('a', limit as never, windowSeconds as never), kind, ARGUMENT, parts);
      expect(await limiter.getLimit('a')).to.deep.equal({ limit: 3, windowSeconds: 10 });
      await limiter.close();
      await expectBadCallChangesNothing((l) => l.updateLimit('a', limit as never, windowSeconds as never));
    });
  }

  it('timestamp -0 is taken as 0 (never reported as -0)', async () => {
    const limiter = new RateLimiter({ limit: 3, windowSeconds: 10 });
    const decision = await limiter.check('a', { timestamp: -0 });
    expect(Object.is(decision.timestamp, 0), String(decision.timestamp)).to.equal(true);
    await limiter.close();
  });
});

describe('validation: the clock and a closed limiter', () => {
  // Regression: a `now` returning NaN made the engines decide at timestamp -1, and the counter then
  // admitted every request (limit 1: allowed, allowed, ...).
  for (const [name, value, kind, parts] of [
    ['NaN', NaN, R, ['RateLimiter options.now()', 'number NaN']],
    ['a negative number', -5, R, ['RateLimiter options.now()', 'number -5']],
    ['a string', '1700000000', T, ['RateLimiter options.now()', 'string "1700000000"']],
  ] as [string, unknown, ErrorClass, string[]][]) {
    it(`a now() that returns ${name} is refused with a ${kind.name} ${OPTION}, for every algorithm`, async () => {
      for (const algorithm of ['sliding-window', 'sliding-log', 'sliding-counter'] as const) {
        const limiter = new RateLimiter({ limit: 1, windowSeconds: 10, algorithm, now: () => value as number });
        await expectRejects(() => limiter.check('a'), kind, OPTION, parts);
        await expectRejects(() => limiter.isAllowed('a'), kind, OPTION, parts);
        // An explicit timestamp does not need the clock.
        expect(await limiter.isAllowed('a', 5)).to.equal(true);
        expect(await limiter.isAllowed('a', 5)).to.equal(false);
        await limiter.close();
      }
    });
  }

  it('a now() that throws rejects the check with its error (no synchronous throw)', async () => {
    const failure = new Error('clock broke');
    const limiter = new RateLimiter({
      limit: 1,
      windowSeconds: 10,
      now: () => {
        throw failure;
      },
    });
    let promise: Promise<Decision> | undefined;
    expect(() => {
      promise = limiter.check('a');
    }).not.to.throw();
    let rejected: unknown;
    await promise?.catch((error: unknown) => {
      rejected = error;
    });
    expect(rejected).to.equal(failure);
    await limiter.close();
  });

  it('after close(), every call rejects with ClosedError (code ERR_SLIDEGATE_CLOSED); close() is idempotent', async () => {
    const limiter = new RateLimiter({ limit: 1, windowSeconds: 10 });
    await limiter.close();
    await limiter.close();
    for (const call of [
      () => limiter.check('a', { timestamp: 1 }),
      () => limiter.isAllowed('a', 1),
      () => limiter.updateLimit('a', 1, 1),
      () => limiter.getLimit('a'),
    ]) {
      const error = await call().then(
        () => expect.fail('accepted after close'),
        (e: unknown) => e as Error & { code?: string },
      );
      expect(error.name).to.equal('ClosedError');
      expect(error.code).to.equal(ErrorCodes.CLOSED);
    }
  });
});
