// A NestJS service limited by slidegate. `createApp` builds and initialises it (tests serve it in-process);
// server.ts listens. Every injection names its token (@Inject), so it needs no emitDecoratorMetadata.
import 'reflect-metadata';
import { BadRequestException, Body, Controller, Get, Header, Headers, Inject, Injectable, Module, Param, Post, Res, UnauthorizedException, UseGuards } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import { Registry } from 'prom-client';
import { renderMetrics, STATUS_PAGE_HTML, statusReport, type Store } from '@slidegate/core';
import { SkipRateLimit, SlidegateGuard, SlidegateModule, SlidegateService } from '@slidegate/nestjs';
// @ts-expect-error: plain ESM JavaScript without type declarations, shared by the examples.
import { ADMIN_LIMIT, adminTokenFromEnv, DEFAULT_ADMIN_TOKEN, isAdminRequest } from '../admin-token.mjs';

export { DEFAULT_ADMIN_TOKEN };
const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');
const REGISTRY = Symbol('REGISTRY');

@Controller()
class PublicController {
  @Get()
  @SkipRateLimit({ api: true })
  hello() {
    return { hello: 'world' };
  }
}

@Injectable()
class ApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.switchToHttp().getRequest<Request>().get('x-api-key')) return true;
    throw new UnauthorizedException('send your API key in the x-api-key header');
  }
}

@Controller('api')
@SkipRateLimit({ public: true })
class ApiController {
  @Get('data')
  @UseGuards(ApiKeyGuard)
  data(@Headers('x-api-key') apiKey: string) {
    return { apiKey, data: [1, 2, 3] };
  }
}

@Injectable()
class AdminGuard implements CanActivate {
  constructor(@Inject(ADMIN_TOKEN) private readonly token: string) {}
  canActivate(context: ExecutionContext): boolean {
    if (isAdminRequest(context.switchToHttp().getRequest<Request>().get('authorization'), this.token)) return true;
    throw new UnauthorizedException('admin routes need Authorization: Bearer <ADMIN_TOKEN>');
  }
}

// Limited by the 'admin' limit only (see createApp), checked before the token: the limit guard is global.
@Controller('admin/limits')
@SkipRateLimit({ public: true, api: true })
@UseGuards(AdminGuard)
class AdminController {
  constructor(@Inject(SlidegateService) private readonly limits: SlidegateService) {}

  @Get(':key')
  async read(@Param('key') key: string) {
    return { key, ...(await this.limits.getLimit(key, 'api')) };
  }

  @Post(':key')
  async write(@Param('key') key: string, @Body() body: { limit?: number; windowSeconds?: number }) {
    const { limit, windowSeconds } = body ?? {};
    try {
      await this.limits.updateLimit(key, limit as number, windowSeconds as number, 'api');
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) throw new BadRequestException(error.message);
      throw error;
    }
    return { key, limit, windowSeconds };
  }
}

// Operators' routes, not limited. In production, serve them on an internal port or behind your auth. The status
// page names clients by a hash of their id (API keys are secrets); statusReport(..., { clientIds: 'full' }) shows them.
@Controller()
@SkipRateLimit()
class OpsController {
  constructor(
    @Inject(SlidegateService) private readonly limits: SlidegateService,
    @Inject(REGISTRY) private readonly registry: Registry,
  ) {}

  @Get('metrics')
  async metrics(@Res() res: Response) {
    const { contentType, body } = await renderMetrics(this.registry);
    // Sent as it is: Express's res.send would add a charset to Prometheus's content type.
    res.setHeader('content-type', contentType);
    res.end(body);
  }

  @Get('status')
  @Header('content-type', 'text/html; charset=utf-8')
  status() {
    return STATUS_PAGE_HTML;
  }

  @Get('status.json')
  @Header('cache-control', 'no-store')
  statusJson() {
    return statusReport([this.limits.limiter('public').limiter, this.limits.limiter('api').limiter]);
  }
}

/** limiterOptions: other RateLimiter options (failureMode, timeoutMs, ...) for both limits. */
export async function createApp({ store, adminToken = adminTokenFromEnv() as string, limiterOptions = {} }: { store: Store; adminToken?: string; limiterOptions?: object }) {
  // A registry of this app's own (not prom-client's global one), so two apps in one process do not collide.
  const registry = new Registry();
  const withMetrics = (name: string) => ({ ...limiterOptions, metrics: { registry, name } });

  @Module({
    imports: [
      SlidegateModule.forRoot({
        store,
        limits: [
          // By client IP (IPv6 grouped by /56): 10 requests a minute. Behind a proxy, app.set('trust proxy', ...) below.
          { name: 'public', limit: 10, windowSeconds: 60, limiterOptions: withMetrics('public') },
          // By API key: 5 requests a minute each, unless the admin route gives a key its own limit. Requests
          // without a key are not counted: ApiKeyGuard refuses them.
          { name: 'api', limit: 5, windowSeconds: 60, limiterOptions: withMetrics('api'), keyGenerator: (req: Request) => req.get('x-api-key') ?? '', skip: (req: Request) => !req.get('x-api-key') },
          // Admin requests by client IP, so a token cannot be guessed by trying; other routes do not count.
          { name: 'admin', ...(ADMIN_LIMIT as { limit: number; windowSeconds: number }), skip: (req: Request) => !req.path.startsWith('/admin/') },
        ],
      }),
    ],
    controllers: [PublicController, ApiController, AdminController, OpsController],
    providers: [{ provide: APP_GUARD, useClass: SlidegateGuard }, { provide: ADMIN_TOKEN, useValue: adminToken }, { provide: REGISTRY, useValue: registry }, ApiKeyGuard, AdminGuard],
  })
  class AppModule {}

  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: ['error', 'warn'] });
  // Behind a proxy: app.set('trust proxy', '10.0.0.0/8') (its addresses) so req.ip is the client, not the proxy.
  await app.init();
  // app.close() closes the limits (SlidegateService's onApplicationShutdown).
  return { app, close: () => app.close() };
}
