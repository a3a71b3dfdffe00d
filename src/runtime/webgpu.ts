// The WebGPU adapter onnxruntime's WebGPU provider would run on, described before any session opens: the device
// choice needs to know whether it is real hardware, and the weights' dtype and the memory check need its features
// and limits. onnxruntime-node exposes none of this, so Dawn's own Node binding (the `webgpu` package) asks.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface WebGpuAdapter {
  vendor: string;
  architecture: string;
  /** The adapter's device name, as the driver reports it. */
  device: string;
  description: string;
  /** A CPU rasterizer (SwiftShader, llvmpipe, WARP): correct but slow, so `auto` never picks it. */
  software: boolean;
  /** WGSL f16 arithmetic: the weights and KV go fp16 only where the shaders can compute in it. */
  shaderF16: boolean;
  /** Bytes of the largest buffer the adapter allows. */
  maxBufferSize: number;
  /** Bytes of the largest buffer one shader can bind: no single tensor an op reads or writes may exceed it. */
  maxStorageBufferBindingSize: number;
}

export type WebGpuProbe = { adapter: WebGpuAdapter; reason?: undefined } | { adapter?: undefined; reason: string };

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

// Run in a child process: a broken driver can crash the process that loads it, and the engine must survive
// that to fall back to the CPU with the reason. The child prints one line of JSON.
const PROBE = `
const { create } = await import(process.argv[1]);
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) { console.log(JSON.stringify({ reason: 'no WebGPU adapter found (no Vulkan, Metal or D3D12 driver Dawn accepts)' })); process.exit(0); }
const i = adapter.info;
console.log(JSON.stringify({ info: { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
  fallback: i.isFallbackAdapter === true }, shaderF16: adapter.features.has('shader-f16'),
  maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize }));
process.exit(0);
`;

let cached: WebGpuProbe | undefined;

/** Describes the WebGPU adapter (probed once per process, in a child process). */
export function probeWebGpu(): WebGpuProbe {
  cached ??= runProbe();
  return cached;
}

function runProbe(): WebGpuProbe {
  let entry: string;
  try {
    entry = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return { reason: "the 'webgpu' package is not installed (reinstall the project's dependencies)" };
  }
  let out: string;
  try {
    out = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE, entry], {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    return { reason: `the WebGPU probe failed (${firstLine(err.stderr || err.message || String(e))})` };
  }
  return parseProbe(out);
}

/** Reads the probe's line of JSON. */
export function parseProbe(out: string): WebGpuProbe {
  const line = out.trim().split('\n').pop() ?? '';
  let r: {
    reason?: string;
    info?: { vendor: string; architecture: string; device: string; description: string; fallback: boolean };
    shaderF16?: boolean;
    maxBufferSize?: number;
    maxStorageBufferBindingSize?: number;
  };
  try {
    r = JSON.parse(line);
  } catch {
    return { reason: `the WebGPU probe printed no description (${firstLine(out) || 'nothing'})` };
  }
  if (!r.info) return { reason: r.reason ?? 'no WebGPU adapter found' };
  const { vendor, architecture, device, description, fallback } = r.info;
  return {
    adapter: {
      vendor,
      architecture,
      device,
      description,
      software: fallback || SOFTWARE.test([vendor, architecture, device, description].join(' ')),
      shaderF16: r.shaderF16 === true,
      maxBufferSize: r.maxBufferSize ?? 0,
      maxStorageBufferBindingSize: r.maxStorageBufferBindingSize ?? 0,
    },
  };
}

/** A short name for messages and the sidebar: "google swiftshader (SwiftShader driver 5.0.0), software". */
export function adapterName(a: WebGpuAdapter): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || a.device || 'unnamed adapter';
  const detail = a.description && a.description !== name ? ` (${a.description})` : '';
  return `${name}${detail}${a.software ? ', software' : ''}`;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0].slice(0, 300);
}
