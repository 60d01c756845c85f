import { expect } from 'chai';
import Fastify, { type FastifyInstance } from 'fastify';
import request from 'supertest';
import { warningsDuring } from '../../core/test/http-support';
import { slidegate } from '../src/index';

const apps: FastifyInstance[] = [];
after(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

function app(): FastifyInstance {
  const made = Fastify();
  apps.push(made);
  return made;
}

describe('@slidegate/fastify as @fastify/rate-limit users expect', () => {
  it('a limited request goes through the app\'s setErrorHandler', async () => {
    const a = app();
    const seen: Array<{ statusCode?: number; message: string }> = [];
    a.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      seen.push(error);
      return reply.code(error.statusCode ?? 500).send({ custom: true });
    });
    await a.register(slidegate, { limit: 1, windowSeconds: 60 });
    a.get('/', async () => 'ok');
    await a.ready();
    expect((await a.inject('/')).statusCode).to.equal(200);
    const limited = await a.inject('/');
    expect([limited.statusCode, limited.json()]).to.deep.equal([429, { custom: true }]);
    expect(seen).to.have.length(1);
    expect(seen[0]?.message).to.equal('Rate limit exceeded, retry in 1 minute');
    // The rate-limit headers survive the error handler.
    // Whole seconds rounded up: 60 or 61 with 1 s buckets (59 on a slow machine).
    expect(limited.headers['retry-after']).to.match(/^(59|60|61)$/);
    expect(limited.headers.ratelimit).to.match(/^"1-in-1min"; r=0; t=(59|60|61)$/);
  });

  it('errorResponseBuilder builds what is thrown, with @fastify/rate-limit\'s context', async () => {
    const a = app();
    await a.register(slidegate, {
      limit: 1,
      windowSeconds: 60,
      errorResponseBuilder: (_request, context) => ({ statusCode: context.statusCode, code: 'SLOW_DOWN', message: `max ${context.max}, after ${context.after}` }),
    });
    a.get('/', async () => 'ok');
    await a.ready();
    await a.inject('/');
    const limited = await a.inject('/');
    expect(limited.statusCode).to.equal(429);
    expect(limited.json()).to.include({ code: 'SLOW_DOWN', message: 'max 1, after 1 minute' });
  });

  it('fastify.rateLimit() limits a not-found handler', async () => {
    const a = app();
    await a.register(slidegate, { limit: 2, windowSeconds: 60, global: true });
    a.setNotFoundHandler({ preHandler: a.rateLimit() }, (_request, reply) => reply.code(404).send('nothing here'));
    await a.ready();
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await a.inject('/missing')).statusCode);
    expect(codes).to.deep.equal([404, 404, 429]);
  });

  it('onExceeding is called for requests under the limit, onLimited for the limited ones', async () => {
    const a = app();
    const calls: string[] = [];
    await a.register(slidegate, { limit: 1, windowSeconds: 60, onExceeding: (_request, key) => void calls.push(`under ${key}`), onLimited: () => void calls.push('limited') });
    a.get('/', async () => 'ok');
    await a.ready();
    await a.inject('/');
    await a.inject('/');
    expect(calls).to.deep.equal(['under 127.0.0.1', 'limited']);
  });

  it('a route declared before the plugin is limited all the same, with a warning', async () => {
    const a = app();
    a.get('/early', async () => 'ok');
    void a.register(slidegate, { limit: 1, windowSeconds: 60 });
    a.get('/unawaited', async () => 'ok');
    await a.listen({ port: 0, host: '127.0.0.1' });
    const warnings = await warningsDuring(async () => {
      expect([(await request(a.server).get('/early')).status, (await request(a.server).get('/early')).status]).to.deep.equal([200, 429]);
      expect((await request(a.server).get('/unawaited')).status).to.equal(429);
    });
    expect(warnings.filter((w) => w.code === 'SLIDEGATE_ROUTE_BEFORE_PLUGIN').map((w) => w.message.match(/route (\S+ \S+)/)?.[1])).to.deep.equal(['GET /early', 'GET /unawaited']);
  });

  it('legacy headers as @fastify/rate-limit sends them: x-ratelimit-reset in seconds until the reset', async () => {
    const a = app();
    await a.register(slidegate, { limit: 2, windowSeconds: 60, headers: 'legacy' });
    a.get('/', async () => 'ok');
    await a.ready();
    const response = await a.inject('/');
    expect(response.headers).to.include({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1' });
    // The first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
    expect(response.headers['x-ratelimit-reset']).to.match(/^6[01]$/);
  });
});

describe('@slidegate/fastify: stacked registrations each limit the routes they missed', () => {
  it('a route declared between two registrations is limited by both', async () => {
    const a = app();
    await a.register(slidegate, { limit: 5, windowSeconds: 60, name: 'first' });
    a.get('/between', async () => 'ok');
    void a.register(slidegate, { limit: 1, windowSeconds: 60, name: 'second' });
    await a.ready();
    const warnings = await warningsDuring(async () => {
      expect([(await a.inject('/between')).statusCode, (await a.inject('/between')).statusCode]).to.deep.equal([200, 429]);
    });
    expect(warnings.map((w) => w.code)).to.include('SLIDEGATE_ROUTE_BEFORE_PLUGIN');
  });
});
