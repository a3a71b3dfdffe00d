// "KVzip: Set Up CUDA": offered only where an NVIDIA driver is loaded and onnxruntime's CUDA provider libraries are
// missing (the `kvzipCode.cudaSetupAvailable` context key). It fetches them through the engine, with progress and
// cancellation, and says plainly what the system must still provide (CUDA 12, cuDNN 9).
import * as vscode from 'vscode';
import { ProgressWords } from '../core/progressWords.ts';
import { existsSync } from 'node:fs';
import { EngineError, type EngineClient } from '../engine/client.ts';
import type { CudaSetupResult, CudaSetupStatus, Event } from '../engine/protocol.ts';
import { failureOf } from './errors.ts';
import { showFailure } from './failureActions.ts';

export const CUDA_SETUP_KEY = 'kvzipCode.cudaSetupAvailable';
export const CUDA_SETUP_COMMAND = 'kvzipCode.setupCuda';
/** The driver's own file: without it there is no NVIDIA GPU to set up, and the engine is not started to ask. */
const DRIVER_FILE = '/proc/driver/nvidia/version';

/** Sets the context key from the engine's view of CUDA. Only asks the engine where a driver is loaded. */
export async function refreshCudaSetupKey(engine: EngineClient, log: (line: string) => void): Promise<CudaSetupStatus | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync(DRIVER_FILE)) {
    await vscode.commands.executeCommand('setContext', CUDA_SETUP_KEY, false);
    return undefined;
  }
  try {
    const status = await engine.request({ type: 'cuda-status' }).result;
    log(`CUDA: ${status.usable ? 'usable' : 'not usable'} (${status.reason})`);
    await vscode.commands.executeCommand('setContext', CUDA_SETUP_KEY, status.providerMissing);
    return status;
  } catch (err) {
    log(`CUDA status failed: ${failureOf(err).message}`);
    return undefined;
  }
}

export function registerCudaSetup(engine: EngineClient, log: (line: string) => void): vscode.Disposable {
  void refreshCudaSetupKey(engine, log);
  return vscode.commands.registerCommand(CUDA_SETUP_COMMAND, () =>
    vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: "KVzip: fetching onnxruntime's CUDA provider (CUDA 12 and cuDNN 9 must be installed on the system)",
        cancellable: true,
      },
      async (progress, token): Promise<CudaSetupResult | undefined> => {
        let reported = 0;
        const words = new ProgressWords();
        const onEvent = (e: Event) => {
          if (e.type !== 'progress' || e.total <= 0) return;
          const p = Math.floor((100 * e.done) / e.total);
          // The download's words, as the CLI prints them: "Downloading onnxruntime's CUDA provider (45 of 230 MB, …)".
          progress.report({ message: words.next(e).text, increment: Math.max(0, p - reported) });
          reported = Math.max(reported, p);
        };
        const running = engine.request({ type: 'cuda-setup' }, onEvent);
        const cancel = token.onCancellationRequested(() => running.cancel());
        try {
          const r = await running.result;
          log(`CUDA setup: installed ${r.installed.length} files; ${r.reason}`);
          await vscode.commands.executeCommand('setContext', CUDA_SETUP_KEY, r.providerMissing);
          if (r.usable)
            void vscode.window.showInformationMessage(
              `KVzip: CUDA is ready (${r.reason}). Builds with device "auto" or "cuda" now use the GPU.`,
            );
          else void vscode.window.showWarningMessage(`KVzip: CUDA is not usable yet: ${r.reason}. ${r.needs}`);
          return r;
        } catch (err) {
          if (err instanceof EngineError && err.code === 'cancelled') return undefined;
          void showFailure('the CUDA setup failed.', failureOf(err));
          return undefined;
        } finally {
          cancel.dispose();
        }
      },
    ),
  );
}
