import { ErrorCodes, rangeError, typeError } from '../../errors';
import { describe } from '../../validate';

const PIPE = /^\\\\[.?]\\pipe\\./;

/** A Windows named pipe (`\\.\pipe\name`), which node:net serves like a Unix socket but is no file. */
export function isNamedPipe(path: string): boolean {
  return PIPE.test(path);
}

/**
 * The longest Unix socket path, in bytes (sun_path less its terminating NUL). Longer ones are not
 * refused by the OS but cut short, so two long paths could meet on one socket: refused here.
 */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

const EXAMPLE = process.platform === 'win32' ? '\\\\.\\pipe\\myapp-slidegate' : '/tmp/myapp-slidegate.sock';

/** Validates a ClusterStore socket `path` option (`name` says whose). */
export function checkSocketPath(path: unknown, name: string): string {
  if (typeof path !== 'string') {
    throw typeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a string, the path of a Unix socket (or on Windows a named pipe) such as ${EXAMPLE}; got ${describe(path)}`);
  }
  if (path.length === 0) throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must not be empty; use a path such as ${EXAMPLE}`);
  if (process.platform === 'win32') {
    if (!isNamedPipe(path)) throw rangeError(ErrorCodes.INVALID_OPTION, `slidegate: ${name} must be a named pipe on Windows, such as ${EXAMPLE}; got ${describe(path)}`);
    return path;
  }
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw rangeError(
      ErrorCodes.INVALID_OPTION,
      `slidegate: ${name} must be at most ${MAX_SOCKET_PATH_BYTES} bytes (the system's limit for a Unix socket path); got ${bytes} bytes: ${describe(path)}. Use a shorter path such as ${EXAMPLE}`,
    );
  }
  return path;
}
