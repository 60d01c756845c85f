import { connect } from 'node:net';

/** Encodes one command in RESP, so a password with spaces or CRLF cannot break the request. */
function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/**
 * Resolves true when the server at host:port answers PING with PONG within `timeoutMs`.
 * A raw socket rather than ioredis: no reconnect loop, no error events, nothing left open.
 * A server still loading its AOF answers `-LOADING`, which counts as not ready.
 */
export function ping(host: string, port: number, timeoutMs: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('error', () => done(false));
    socket.once('close', () => done(reply.includes('+PONG')));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('+PONG')) done(true);
      else if (reply.startsWith('-') || reply.includes('\r\n-')) done(false);
    });
    socket.once('connect', () => {
      const auth = password === undefined ? '' : encode(['AUTH', password]);
      socket.write(auth + encode(['PING']));
    });
  });
}
