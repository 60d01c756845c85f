import { expect } from 'chai';
import { Redis } from 'ioredis';
import { describeEndpoint } from '../src/stores/redis/endpoint';

// What failure messages call a Redis client: where it connects, never its password.

describe('RedisStore endpoint in failure messages', () => {
  it('names host:port (socket path, Sentinels, Cluster nodes) of ioredis and node-redis clients, never a password', () => {
    const ioredis = new Redis('redis://user:s3cret@10.0.0.7:6380/2', { lazyConnect: true });
    expect(describeEndpoint(ioredis)).to.equal('10.0.0.7:6380');
    ioredis.disconnect();
    expect(describeEndpoint({ options: { path: '/run/redis.sock', password: 's3cret' } })).to.equal('/run/redis.sock');
    expect(describeEndpoint({ options: { sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'main', password: 's3cret' } })).to.equal(
      'Sentinel master "main" via 10.0.0.1:26379',
    );
    expect(describeEndpoint({ isCluster: true, startupNodes: ['redis://:s3cret@10.0.0.2:7000', { host: '::1', port: 7001 }] })).to.equal(
      'Redis Cluster via 10.0.0.2:7000, [::1]:7001',
    );
    // node-redis: a URL with credentials, or socket options.
    expect(describeEndpoint({ options: { url: 'rediss://default:s3cret@cache.example:6390' } })).to.equal('cache.example:6390');
    expect(describeEndpoint({ options: { socket: { host: '10.0.0.9', port: 6379 }, password: 's3cret' } })).to.equal('10.0.0.9:6379');
    expect(describeEndpoint({ send: () => undefined }), 'a hand-written adapter says nothing').to.equal(undefined);
  });
});
