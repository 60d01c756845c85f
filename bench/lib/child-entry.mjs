// The child side of runInChild: import the case module, run one export with the parent's params, answer, exit.
import { pathToFileURL } from 'node:url';

const [modulePath, exportName] = process.argv.slice(2);

process.on('message', async (message) => {
  if (message?.type !== 'run') return;
  try {
    const mod = await import(pathToFileURL(modulePath).href);
    const fn = mod[exportName];
    if (typeof fn !== 'function') throw new Error(`bench: ${modulePath} has no export ${exportName}`);
    const result = await fn(message.params);
    process.send({ type: 'result', result }, () => process.exit(0));
  } catch (error) {
    process.send({ type: 'error', error: error?.stack ?? String(error) }, () => process.exit(1));
  }
});
process.send({ type: 'ready' });
