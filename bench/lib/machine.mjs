import os from 'node:os';

/** What the figures were measured on; written into every JSON file and the report. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg_1m: Math.round(os.loadavg()[0] * 100) / 100,
  };
}
