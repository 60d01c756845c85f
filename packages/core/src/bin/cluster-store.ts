#!/usr/bin/env node
// `slidegate-cluster-store --path /tmp/myapp-slidegate.sock`: serves ClusterStore on a socket until
// SIGINT or SIGTERM, for hosts where no node:cluster primary runs application code. Under PM2 it is an
// app of its own in fork mode beside the service's cluster-mode app (docs/cluster-store.md).
import { ClusterStore } from '../stores/cluster-store';

const USAGE = 'usage: slidegate-cluster-store --path <unix socket path, or \\\\.\\pipe\\name on Windows>';

function pathArgument(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--path') return argv[i + 1];
    if (arg.startsWith('--path=')) return arg.slice('--path='.length);
  }
  return undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const path = pathArgument(argv);
  if (path === undefined) {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  const server = await ClusterStore.serve({ path });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Clients are told (bye) and fall back until a server serves the path again.
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(`slidegate: ClusterStore serving on ${server.path} (pid ${process.pid})`);
  // PM2's wait_ready: the app counts as started once it serves.
  process.send?.('ready');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
