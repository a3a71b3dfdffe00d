// The machine a benchmark ran on, as its results record it: figures from different machines compare only as ratios.
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';

export function benchMachine() {
  return {
    cpuModel: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    onnxruntime: (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version,
  };
}
