/**
 * ClusterStore's socket transport carries the same messages as its IPC channel, one JSON object per
 * line (JSON escapes every newline inside a string, so a line is always one whole message).
 */

/** No message comes near this (a call carries one client's request); a longer line is a peer to drop. */
export const MAX_LINE_CHARS = 1 << 20;

export function frame(message: object): string {
  return `${JSON.stringify(message)}\n`;
}

/**
 * Cuts a socket's text (`setEncoding('utf8')`, so no character is split across chunks) into lines
 * and hands each one, parsed, to `onMessage`. `push` returns false when the peer sent a line that is
 * not JSON or is longer than MAX_LINE_CHARS: the caller then drops the connection.
 */
export class LineReader {
  #partial = '';
  readonly #onMessage: (message: unknown) => void;

  constructor(onMessage: (message: unknown) => void) {
    this.#onMessage = onMessage;
  }

  push(chunk: string): boolean {
    let start = 0;
    let end = chunk.indexOf('\n');
    while (end !== -1) {
      const line = this.#partial + chunk.slice(start, end);
      this.#partial = '';
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        return false;
      }
      this.#onMessage(message);
      start = end + 1;
      end = chunk.indexOf('\n', start);
    }
    this.#partial += chunk.slice(start);
    return this.#partial.length <= MAX_LINE_CHARS;
  }
}
