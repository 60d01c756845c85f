import { Global, Inject, Module, type DynamicModule, type FactoryProvider, type ModuleMetadata, type OnModuleInit } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { SlidegateModuleOptions } from './options';
import { SlidegateService } from './slidegate-service';

/** `SlidegateModule.forRootAsync()`: the options from a factory, with what it injects (a ConfigService, ...). */
export interface SlidegateModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: FactoryProvider['inject'];
  useFactory: (...args: unknown[]) => SlidegateModuleOptions | Promise<SlidegateModuleOptions>;
}

/**
 * Registers the limits once for the whole app (a global module): `SlidegateModule.forRoot({ limit: 100, windowSeconds: 60 })`,
 * or `forRoot({ store, limits: [{ name: 'short', ... }, { name: 'long', ... }] })`. Options are validated here.
 */
@Global()
@Module({ imports: [DiscoveryModule] })
export class SlidegateModule implements OnModuleInit {
  constructor(
    @Inject(SlidegateService) private readonly service: SlidegateService,
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  /**
   * Resolves every controller method's limits now, as the guard would on its first request, so that a
   * decorator naming a limit the module lacks (or a route limit that cannot be built) fails start-up, not each request.
   */
  onModuleInit(): void {
    for (const { metatype } of this.discovery.getControllers()) {
      if (typeof metatype !== 'function') continue;
      const prototype = metatype.prototype as Record<string, object & { name: string }>;
      for (const method of this.scanner.getAllMethodNames(prototype)) this.service.routeLimiters(prototype[method]!, metatype, this.reflector);
    }
  }

  static forRoot(options: SlidegateModuleOptions): DynamicModule {
    const service = new SlidegateService(options);
    return { module: SlidegateModule, providers: [{ provide: SlidegateService, useFactory: () => service }], exports: [SlidegateService] };
  }

  static forRootAsync(options: SlidegateModuleAsyncOptions): DynamicModule {
    const provider: FactoryProvider<SlidegateService> = {
      provide: SlidegateService,
      inject: options.inject ?? [],
      useFactory: async (...args: unknown[]) => new SlidegateService(await options.useFactory(...args)),
    };
    return { module: SlidegateModule, imports: options.imports ?? [], providers: [provider], exports: [SlidegateService] };
  }
}
