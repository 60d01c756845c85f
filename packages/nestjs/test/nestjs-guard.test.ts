import 'reflect-metadata';
import { expect } from 'chai';
import { Controller, Get, Injectable, Module, Req, UseGuards, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Registry } from 'prom-client';
import request from 'supertest';
import { ClosedError } from '@slidegate/core';
import { storeCases, statuses, warningsDuring } from '../../core/test/http-support';
import { RateLimit, SkipRateLimit, SlidegateGuard, SlidegateModule, SlidegateService, type SlidegateModuleOptions } from '../src/index';

@Controller()
class AppController {
  @Get()
  root(): string {
    return 'ok';
  }

  @Get('strict')
  @RateLimit({ limit: 1, windowSeconds: 60 })
  strict(): string {
    return 'ok';
  }

  @Get('free')
  @SkipRateLimit()
  free(): string {
    return 'ok';
  }
}

@Controller('internal')
@SkipRateLimit()
class InternalController {
  @Get()
  open(): string {
    return 'ok';
  }

  @Get('limited')
  @SkipRateLimit({ default: false })
  limited(): string {
    return 'ok';
  }
}

@Controller('reports')
@RateLimit({ limit: 2, windowSeconds: 60 })
class ReportsController {
  @Get('a')
  a(): string {
    return 'ok';
  }

  @Get('b')
  b(): string {
    return 'ok';
  }
}

@Controller('guarded')
@UseGuards(SlidegateGuard)
class GuardedController {
  @Get()
  get(): string {
    return 'ok';
  }
}

@Controller('named')
class NamedController {
  @Get()
  both(): string {
    return 'ok';
  }

  @Get('long-only')
  @SkipRateLimit({ short: true })
  longOnly(): string {
    return 'ok';
  }

  @Get('own-long')
  @RateLimit({ long: { limit: 1, windowSeconds: 60 } })
  ownLong(): string {
    return 'ok';
  }
}

@Controller('typo')
class TypoController {
  @Get()
  fine(): string {
    return 'ok';
  }

  @Get('typo')
  @RateLimit({ lnog: { limit: 1, windowSeconds: 60 } })
  typo(): string {
    return 'ok';
  }
}

@Controller('state')
class StateController {
  @Get()
  state(@Req() req: { rateLimit?: { limit: number; remaining: number } }) {
    return { limit: req.rateLimit?.limit, remaining: req.rateLimit?.remaining };
  }

  @Get('fail')
  fail(): never {
    throw new Error('handler failed');
  }
}

const GLOBAL_GUARD = { provide: APP_GUARD, useClass: SlidegateGuard };
const PLATFORMS = {
  Express: async (module: Type<unknown> | DynamicModule, trustProxy: boolean) => {
    const app = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { logger: false });
    if (trustProxy) app.set('trust proxy', 'loopback');
    return app;
  },
  Fastify: async (module: Type<unknown> | DynamicModule, trustProxy: boolean) =>
    NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter({ trustProxy: trustProxy ? 'loopback' : false }), { logger: false }),
};

const apps: INestApplication[] = [];
after(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

for (const [platform, create] of Object.entries(PLATFORMS)) {
  /** A started app with the module's options, the global guard unless `global` is false. */
  async function start(options: SlidegateModuleOptions, controllers: Type<unknown>[], { global = true, trustProxy = false } = {}): Promise<INestApplication> {
    @Module({ imports: [SlidegateModule.forRoot(options)], controllers, providers: global ? [GLOBAL_GUARD] : [] })
    class TestModule {}
    const app = await create(TestModule, trustProxy);
    apps.push(app); // closed after the tests, also when init fails
    await app.init();
    if (platform === 'Fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
    return app;
  }

  for (const storeCase of storeCases()) {
    describe(`@slidegate/nestjs on ${platform}, ${storeCase.name}`, () => {
      let opened: Awaited<ReturnType<typeof storeCase.open>>;
      before(async () => {
        opened = await storeCase.open();
      });
      after(async () => {
        await opened.close();
      });
      const on = (name: string): SlidegateModuleOptions => ({ store: opened.store, limiterOptions: opened.limiterOptions, name: `${opened.prefix}-${name}` });

      it('allows exactly the limit, then 429 through Nest\'s exception handling, with the headers and Retry-After', async () => {
        const server = (await start({ ...on('a'), limit: 3, windowSeconds: 60 }, [AppController])).getHttpServer();
        expect(await statuses(server, 3)).to.deep.equal([200, 200, 200]);
        const response = await request(server).get('/');
        expect([response.status, response.body]).to.deep.equal([429, { statusCode: 429, message: 'Too many requests, please try again later.' }]);
        // Whole seconds, rounded up from the decision's ms: 60 or 61 with 1 s buckets (less on a slow machine).
        expect(Number(response.headers['retry-after'])).to.be.within(58, 61);
        expect(response.headers.ratelimit).to.match(new RegExp(`^"${opened.prefix}-a"; r=0; t=(58|59|60|61)$`));
        expect(response.headers['ratelimit-policy']).to.match(new RegExp(`^"${opened.prefix}-a"; q=3; w=60; pk=:[^:]+:$`));
      });

      it('@RateLimit gives a handler or a controller its own count; @SkipRateLimit leaves it out, a handler can opt back in', async () => {
        const server = (await start({ ...on('b'), limit: 3, windowSeconds: 60 }, [AppController, InternalController, ReportsController])).getHttpServer();
        expect(await statuses(server, 2, '/strict')).to.deep.equal([200, 429]);
        expect(await statuses(server, 4, '/free')).to.deep.equal([200, 200, 200, 200]);
        expect(await statuses(server, 4, '/internal')).to.deep.equal([200, 200, 200, 200]);
        // The controller's limit is shared by its handlers, and counts apart from the app's.
        expect([...(await statuses(server, 1, '/reports/a')), ...(await statuses(server, 2, '/reports/b'))]).to.deep.equal([200, 200, 429]);
        expect(await statuses(server, 4, '/internal/limited')).to.deep.equal([200, 200, 200, 429]);
        expect(await statuses(server, 1, '/')).to.deep.equal([429]);
      });

      it('several named limits: each counted and shown, each skipped or overridden by name', async () => {
        // One prefix beside the limits: each limit still counts apart (under <prefix>short: and <prefix>long:).
        const server = (await start({ store: opened.store, limiterOptions: opened.limiterOptions, prefix: `${opened.prefix}-d:`, limits: [{ name: 'short', limit: 2, windowSeconds: 10 }, { name: 'long', limit: 3, windowSeconds: 60 }] }, [NamedController])).getHttpServer();
        const first = await request(server).get('/named');
        // Buckets of 167 ms (10 s) and 1 s (60 s): each reset is W up to a bucket more, rounded up.
        expect(first.headers.ratelimit).to.match(/^"short"; r=1; t=1[01], "long"; r=2; t=6[01]$/);
        expect(await statuses(server, 2, '/named')).to.deep.equal([200, 429]);
        // The short limit is spent; a route that skips it still counts against long (2 of 3 used).
        expect(await statuses(server, 2, '/named/long-only')).to.deep.equal([200, 429]);
        // Its own long limit (1), its own count; short still applies and is spent.
        expect(await statuses(server, 1, '/named/own-long')).to.deep.equal([429]);
      });

      it('per controller with @UseGuards, and limits changed at run time through SlidegateService', async () => {
        const app = await start({ ...on('c'), limit: 2, windowSeconds: 60, keyGenerator: (req: { headers: Record<string, string | undefined> }) => req.headers['x-api-key'] ?? 'anonymous' }, [AppController, GuardedController], { global: false });
        const server = app.getHttpServer();
        expect(await statuses(server, 3, '/')).to.deep.equal([200, 200, 200]);
        expect(await statuses(server, 3, '/guarded', { 'x-api-key': 'alice' })).to.deep.equal([200, 200, 429]);
        expect(await statuses(server, 3, '/guarded', { 'x-api-key': 'bob' })).to.deep.equal([200, 200, 429]);
        const service = app.get(SlidegateService);
        await service.updateLimit('alice', 4, 60);
        expect(await service.getLimit('alice')).to.deep.include({ limit: 4, windowSeconds: 60 });
        expect(await statuses(server, 3, '/guarded', { 'x-api-key': 'alice' })).to.deep.equal([200, 200, 429]);
        await service.deleteLimit('alice');
        expect(await service.getLimit('alice')).to.deep.include({ limit: 2, windowSeconds: 60 });
      });
    });
  }

  describe(`@slidegate/nestjs on ${platform}`, () => {
    it("with metrics on, each controller's or handler's own limit is counted under its own metrics name", async () => {
      const registry = new Registry();
      const server = (await start({ limit: 3, windowSeconds: 60, name: 'public', limiterOptions: { metrics: { name: 'public', registry } } }, [AppController, ReportsController])).getHttpServer();
      expect(await statuses(server, 3, '/reports/a')).to.deep.equal([200, 200, 429]);
      expect(await statuses(server, 2, '/strict')).to.deep.equal([200, 429]);
      expect(await statuses(server, 4, '/')).to.deep.equal([200, 200, 200, 429]);
      const decisions = (await registry.getSingleMetric('slidegate_decisions_total')?.get())?.values ?? [];
      const names = new Set(decisions.map((v) => v.labels.name));
      expect([...names].sort()).to.deep.equal(['public', 'public:AppController.strict', 'public:ReportsController']);
    });

    it('metrics given once beside named limits serve every limit, each under its own name (a limit\'s own metrics keep theirs)', async () => {
      const limits = [{ name: 'short', limit: 2, windowSeconds: 10 }, { name: 'long', limit: 3, windowSeconds: 60 }];
      // The module's options for a registry, then the names of short, long, and the handler's own long limit.
      const cases: Array<[(registry: Registry) => SlidegateModuleOptions, string[]]> = [
        [(registry) => ({ limits, limiterOptions: { metrics: { registry } } }), ['short', 'long', 'long:NamedController.ownLong']],
        [(registry) => ({ limits, limiterOptions: { metrics: { registry, name: 'api' } } }), ['api:short', 'api:long', 'api:long:NamedController.ownLong']],
        [(registry) => ({ limits: [{ ...limits[0]!, limiterOptions: { metrics: { registry, name: 'fast' } } }, limits[1]!], limiterOptions: { metrics: { registry } } }), ['fast', 'long', 'long:NamedController.ownLong']],
      ];
      for (const [options, [short, long, ownLong]] of cases) {
        const registry = new Registry();
        const server = (await start(options(registry), [NamedController])).getHttpServer();
        // short (2) and the handler's own long (1): the second request is refused by the own limit.
        expect(await statuses(server, 2, '/named/own-long')).to.deep.equal([200, 429]);
        const decisions = (await registry.getSingleMetric('slidegate_decisions_total')?.get())?.values ?? [];
        const counted = (name: string | undefined) => decisions.filter((v) => v.labels.name === name).reduce((sum, v) => sum + v.value, 0);
        expect([...new Set(decisions.map((v) => v.labels.name))].sort()).to.deep.equal([short, long, ownLong].sort());
        expect([counted(short), counted(long), counted(ownLong)]).to.deep.equal([2, 0, 2]);
      }
    });

    it('a decorator naming a limit the module lacks fails the app at start-up, naming the handler and the limits', async () => {
      let error: unknown;
      await start({ limits: [{ name: 'short', limit: 2, windowSeconds: 10 }, { name: 'long', limit: 3, windowSeconds: 60 }] }, [NamedController, TypoController]).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(TypeError).with.property('code', 'ERR_SLIDEGATE_INVALID_OPTION');
      expect((error as Error).message).to.equal('slidegate: @RateLimit() on TypoController.typo names limit "lnog", which SlidegateModule does not have; it has short, long');
    });

    it("follows the platform's trust proxy: X-Forwarded-For keys clients when trusted, and is ignored with one warning when not", async () => {
      const trusted = (await start({ limit: 1, windowSeconds: 60 }, [AppController], { trustProxy: true })).getHttpServer();
      expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200]);
      expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([200]);
      expect(await statuses(trusted, 1, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([429]);
      const untrusted = (await start({ limit: 1, windowSeconds: 60 }, [AppController])).getHttpServer();
      const warnings = await warningsDuring(async () => {
        expect(await statuses(untrusted, 2, '/', { 'x-forwarded-for': '198.51.100.1' })).to.deep.equal([200, 429]);
        expect(await statuses(untrusted, 1, '/', { 'x-forwarded-for': '198.51.100.2' })).to.deep.equal([429]);
      });
      expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_XFF_IGNORED']);
      // The platform's own setting, as a Nest app sets it.
      const setting = platform === 'Express' ? "app.set('trust proxy', '10.0.0.0/8')" : "new FastifyAdapter({ trustProxy: '10.0.0.0/8' })";
      expect(warnings[0]?.message).to.include(setting).and.not.match(/Koa|Fastify\(|Express:/);
    });

    it('req.rateLimit holds the decision; skipFailedRequests gives failed requests back; resetKey forgets a client', async () => {
      const app = await start({ limit: 2, windowSeconds: 60, skipFailedRequests: true }, [StateController]);
      const server = app.getHttpServer();
      expect(await statuses(server, 3, '/state/fail')).to.deep.equal([500, 500, 500]);
      // The unit goes back once the response is done; give the give-back a moment to land.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await request(server).get('/state')).body).to.deep.equal({ limit: 2, remaining: 1 });
      expect(await statuses(server, 2, '/state')).to.deep.equal([200, 429]);
      await app.get(SlidegateService).resetKey('127.0.0.1');
      expect(await statuses(server, 1, '/state')).to.deep.equal([200]);
    });

    it('object messages are the body; async callbacks; a throwing callback is a 500; app.close() closes the limiters', async () => {
      const app = await start(
        { limit: 3, windowSeconds: 60, message: { error: 'rate_limited' }, keyGenerator: async (req: { headers: Record<string, string | undefined> }) => req.headers['x-api-key'] ?? 'anonymous', cost: async (req: { headers: Record<string, string | undefined> }) => {
          if (req.headers['x-units'] === 'boom') throw new Error('bad cost');
          return Number(req.headers['x-units'] ?? 1);
        } },
        [AppController],
      );
      const server = app.getHttpServer();
      expect(await statuses(server, 1, '/', { 'x-api-key': 'k', 'x-units': '2' })).to.deep.equal([200]);
      const denied = await request(server).get('/').set({ 'x-api-key': 'k', 'x-units': '2' });
      expect([denied.status, denied.body]).to.deep.equal([429, { error: 'rate_limited' }]);
      expect(denied.headers.ratelimit).to.match(/^"3-in-1min"; r=1; t=6[01]$/);
      expect((await request(server).get('/').set('x-units', 'boom')).status).to.equal(500);
      const service = app.get(SlidegateService);
      await app.close();
      let error: unknown;
      await service.limiter().limiter.check('x').catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ClosedError);
    });
  });
}

describe('@slidegate/nestjs options', () => {
  it('refuses bad module options at forRoot and bad decorator arguments where they are written', () => {
    expect(() => SlidegateModule.forRoot({ windowSeconds: 60 })).to.throw(TypeError, /SlidegateModule.forRoot options needs limit and windowSeconds/);
    expect(() => SlidegateModule.forRoot({ limit: 1, windowSeconds: 60, duration: 1 } as never)).to.throw(TypeError, /unknown option SlidegateModule.forRoot options\.duration/);
    expect(() => SlidegateModule.forRoot({ limits: [] })).to.throw(TypeError, /limits must be a non-empty array/);
    expect(() => SlidegateModule.forRoot({ limits: [{ name: 'a', limit: 1, windowSeconds: 1 }, { name: 'a', limit: 2, windowSeconds: 2 }] })).to.throw(TypeError, /limits\[1\]\.name must be a unique non-empty string; got a/);
    expect(() => SlidegateModule.forRoot({ limits: [{ name: 'a', limit: 1, windowSeconds: 0 }] })).to.throw(RangeError, /limits\[0\]\.windowSeconds/);
    expect(() => RateLimit({ limit: -1, windowSeconds: 60 })).to.throw(RangeError, /@RateLimit\(\)\.limit must be an integer from 0 .*got number -1/);
    expect(() => RateLimit({ short: { limit: 1, windowSeconds: 1.5 } })).to.throw(RangeError, /@RateLimit\(\)\.short\.windowSeconds .*got number 1.5/);
    expect(() => SkipRateLimit({ short: 'yes' as never })).to.throw(TypeError, /@SkipRateLimit\(\)\.short must be a boolean; got string/);
  });

  it('forRootAsync takes the options from a factory with its injections', async () => {
    @Injectable()
    class Config {
      readonly limit = 1;
    }
    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}
    @Module({
      imports: [SlidegateModule.forRootAsync({ imports: [ConfigModule], inject: [Config], useFactory: (config: unknown) => ({ limit: (config as Config).limit, windowSeconds: 60 }) })],
      controllers: [AppController],
      providers: [GLOBAL_GUARD],
    })
    class AsyncModule {}
    const app = await NestFactory.create(AsyncModule, new ExpressAdapter(), { logger: false });
    await app.init();
    apps.push(app);
    expect(await statuses(app.getHttpServer(), 2)).to.deep.equal([200, 429]);
  });
});
