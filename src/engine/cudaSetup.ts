// The CUDA setup a user can reach: where an NVIDIA driver is present but onnxruntime's CUDA provider libraries are
// not (an offline or `ONNXRUNTIME_NODE_INSTALL=skip` install leaves them out), fetch the provider package the way
// onnxruntime-node's own installer does. CUDA 12 and cuDNN 9 themselves must come from the system.
import { UserError } from '../core/errors.ts';
import { CancelledError } from '../core/cancel.ts';
import { HubError } from '../model/hub.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cudaStatus, installCudaProvider, ortBinDir, REQUIRED_PROVIDER_FILES, type CudaStatus } from '../runtime/cudaProvider.ts';
import type { CudaSetupResult, CudaSetupStatus } from './protocol.ts';
import type { ProgressFn } from '../core/progress.ts';

export const CUDA_NEEDS =
  'The GPU path needs an NVIDIA driver, CUDA 12 and cuDNN 9 installed on the system; this fetches only onnxruntime’s CUDA provider libraries.';

function summary(s: CudaStatus): CudaSetupStatus {
  return {
    driver: s.driverVersion !== undefined,
    usable: s.usable,
    providerMissing: (s.missingProviderFiles?.length ?? 0) > 0,
    reason: s.reason,
    ...(s.missingSystemLibs?.length ? { missingSystemLibs: s.missingSystemLibs } : {}),
    needs: CUDA_NEEDS,
  };
}

/** What the setup command would do here; the extension shows its command only when `providerMissing` holds. */
export function cudaSetupStatus(): CudaSetupStatus {
  return summary(cudaStatus());
}

/**
 * Fetches and installs the provider libraries. Refuses where there is no NVIDIA driver (nothing would use them),
 * unless forced, and does nothing where they are already there; either way it reports what the system still lacks.
 */
export async function setupCuda(progress: ProgressFn, signal?: AbortSignal, force = false): Promise<CudaSetupResult> {
  const before = cudaStatus();
  if (before.driverVersion === undefined && !force) {
    throw new UserError(
      `Cannot set up CUDA: ${before.reason}. ${CUDA_NEEDS} To install the provider for later use on a GPU machine, pass --force.`,
      'no-driver',
    );
  }
  const binDir = before.providerDir ?? ortBinDir();
  const missing = before.missingProviderFiles ?? REQUIRED_PROVIDER_FILES.filter((f) => !existsSync(join(binDir, f)));
  if (!missing.length) return { ...summary(before), installed: [] };
  let installed: string[];
  try {
    installed = await installCudaProvider({
      binDir,
      signal,
      onProgress: (p) => progress('download', p.bytes, p.total ?? 0, "onnxruntime's CUDA provider"),
    });
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    if (e instanceof HubError) throw new UserError(`Could not fetch the CUDA provider: ${e.message}`, `download-${e.code}`);
    throw e;
  }
  return { ...summary(cudaStatus()), installed };
}
