import { Global, Module, type DynamicModule, type FactoryProvider, type ModuleMetadata } from '@nestjs/common';
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
@Module({})
export class SlidegateModule {
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
