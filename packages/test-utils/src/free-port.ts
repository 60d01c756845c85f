import { createServer } from 'node:net';

/** Ports already handed out by this process: the OS may offer a just-closed port again. */
const handedOut = new Set<number>();

const MAX_ATTEMPTS = 50;

/** Binds port 0 on 127.0.0.1 and returns the port the OS chose, after closing the listener. */
function askOsForPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('test-utils: the OS gave no port'))));
    });
  });
}

/** Resolves true when `port` can be bound on 127.0.0.1 right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1, never the same one twice in this process.
 *
 * The port is free when returned; nothing reserves it, so bind it soon.
 */
export async function freePort(): Promise<number> {
  return freePortWhere(() => Promise.resolve(true));
}

/**
 * A free port `p` whose `p + offset` is free too, and `p + offset` ≤ 65535.
 * A Cluster node also listens on its bus port, `port + 10000`.
 */
export async function freePortWithCompanion(offset: number): Promise<number> {
  const port = await freePortWhere(async (candidate) => candidate + offset <= 65535 && !handedOut.has(candidate + offset) && canBind(candidate + offset));
  // Not handed out again as anyone's own port: a second node started at the same time would take it.
  handedOut.add(port + offset);
  return port;
}

async function freePortWhere(accept: (port: number) => Promise<boolean>): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const port = await askOsForPort();
    if (handedOut.has(port) || !(await accept(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`test-utils: found no free port on 127.0.0.1 in ${MAX_ATTEMPTS} attempts`);
}
