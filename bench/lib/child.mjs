import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./child-entry.mjs', import.meta.url));

/**
 * Runs `exportName(params)` of `modulePath` in a fresh Node process and returns its result. Each
 * measurement gets its own process so one subject's JIT state, garbage and timers cannot tint another's.
 * `--expose-gc` is always on so memory cases can force a collection.
 */
export function runInChild(modulePath, exportName, params, { timeoutMs = 120_000, execArgv = [], env } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(ENTRY, [modulePath, exportName], {
      execArgv: ['--expose-gc', ...execArgv],
      env: env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    const finish = (fnc, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fnc(value);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(reject, new Error(`bench: ${exportName} in ${modulePath} ran longer than ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message) => {
      if (message?.type === 'ready') child.send({ type: 'run', params });
      else if (message?.type === 'result') finish(resolve, message.result);
      else if (message?.type === 'error') finish(reject, new Error(message.error));
    });
    child.on('error', (error) => finish(reject, error));
    child.on('exit', (code, signal) => {
      finish(reject, new Error(`bench: child for ${exportName} exited (code ${code}, signal ${signal}) before answering`));
    });
  });
}
