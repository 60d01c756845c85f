import { spawn } from 'node:child_process';
import { trackChild } from './process-registry';

/** Output of {@link runCommand}. */
export interface CommandResult {
  code: number | null;
  output: string;
}

/**
 * Runs a short command (redis-cli), collecting stdout and stderr together; killed after `timeoutMs`.
 * Rejects with `missingHint` when the binary is not on PATH.
 */
export function runCommand(binary: string, args: string[], timeoutMs: number, missingHint: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('spawn', () => trackChild(child));
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT' ? new Error(`test-utils: \`${binary}\` is not on PATH; ${missingHint}`, { cause: error }) : error,
      );
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`test-utils: \`${binary} ${args.join(' ')}\` took longer than ${timeoutMs} ms; output:\n${output}`));
      } else {
        resolve({ code, output });
      }
    });
  });
}
