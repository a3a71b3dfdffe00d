// onnxruntime sessions with the execution-provider choice: CUDA when asked for (or when `auto` finds it
// usable), else the CPU, always with the reason stated. onnxruntime-node does not fall back by itself.
import * as ort from 'onnxruntime-node';
import type { Device } from '../engine/protocol.ts';
import { cudaStatus } from './cudaProvider.ts';

export interface DeviceChoice {
  device: 'cuda' | 'cpu';
  /** Why the CPU was chosen, when it was. */
  reason?: string;
}

/** Decides the device before any weights are prepared, since the dtype depends on it. */
export function chooseDevice(requested: Device): DeviceChoice {
  if (requested === 'cpu') return { device: 'cpu', reason: 'CPU requested' };
  const status = cudaStatus();
  if (status.usable) return { device: 'cuda' };
  return { device: 'cpu', reason: status.reason };
}

export interface OpenedSession {
  session: ort.InferenceSession;
  device: 'cuda' | 'cpu';
  reason?: string;
}

function options(device: 'cuda' | 'cpu'): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: device === 'cuda' ? [{ name: 'cuda', deviceId: 0 }] : ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
}

/**
 * Opens `modelPath` on the chosen device. If CUDA fails, `fallback` is asked for a CPU model path (the CPU
 * needs fp32 weights) and the failure becomes the stated reason.
 */
export async function openSession(
  modelPath: string,
  choice: DeviceChoice,
  fallback: () => Promise<string> | string,
): Promise<OpenedSession> {
  if (choice.device === 'cuda') {
    try {
      return { session: await ort.InferenceSession.create(modelPath, options('cuda')), device: 'cuda' };
    } catch (e) {
      const reason = `CUDA session failed (${firstLine(e)}); running on the CPU`;
      return { session: await ort.InferenceSession.create(await fallback(), options('cpu')), device: 'cpu', reason };
    }
  }
  return { session: await ort.InferenceSession.create(modelPath, options('cpu')), device: 'cpu', reason: choice.reason };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 300);
}
