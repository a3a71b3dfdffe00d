// WebGPU suites run where Dawn finds an adapter: a GPU, or on Linux without one Debian chromium's SwiftShader
// (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json, which .ci/run sets). Elsewhere they skip and say so.
import { probeWebGpu } from '../../src/runtime/webgpu.ts';

export function webgpuSkip(): string | false {
  const probe = probeWebGpu();
  if (probe.adapter) return false;
  return `no WebGPU adapter (${probe.reason}); without a GPU on Linux, set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (Debian chromium's SwiftShader)`;
}

/** The largest absolute difference between two equally long arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
