// Is CUDA usable by onnxruntime-node here, and if its provider libraries are missing, fetch them the way its own
// installer does (script/install-metadata.js + install-utils.js): NuGet v3 index → PackageBaseAddress →
// Microsoft.ML.OnnxRuntime.Gpu.Linux/<version>.nupkg → runtimes/linux-x64/native/*.so into bin/napi-v*/linux/x64.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { downloadFile, fetchJson, type DownloadProgress } from '../model/hub.ts';
import { extractZipEntry, readZipEntries } from './zip.ts';

export const NUGET_INDEX = 'https://api.nuget.org/v3/index.json';
export const NUGET_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
const PATH_IN_PACKAGE = 'runtimes/linux-x64/native/';
/** What onnxruntime-node's installer extracts for linux/x64:cuda12. */
export const PROVIDER_FILES = [
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_tensorrt.so',
];
/** Without these two the CUDA EP cannot load; TensorRT's is optional for us. */
export const REQUIRED_PROVIDER_FILES = PROVIDER_FILES.slice(0, 2);
/** The CUDA 12 + cuDNN 9 libraries the CUDA EP of onnxruntime 1.2x/1.3x dlopens. */
export const CUDA_SYSTEM_LIBS = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcudnn.so.9'];

export interface GpuInfo {
  name: string;
  memoryTotalMiB: number;
  memoryFreeMiB: number;
}

export interface CudaStatus {
  usable: boolean;
  /** Why not (or, when usable, what was found), in words for the user. */
  reason: string;
  driverVersion?: string;
  gpus?: GpuInfo[];
  providerDir?: string;
  /** Provider libraries missing from providerDir: fetch them with installCudaProvider. */
  missingProviderFiles?: string[];
  missingSystemLibs?: string[];
}

export interface DetectOptions {
  platform?: string;
  arch?: string;
  /** Defaults to /proc/driver/nvidia/version. */
  driverVersionFile?: string;
  /** nvidia-smi executable; false to skip it. */
  nvidiaSmi?: string | false;
  /** onnxruntime-node's native folder; found from node_modules by default. */
  binDir?: string;
  /** Directories searched for CUDA's own libraries, in addition to `ldconfig -p`; false skips the check. */
  libraryDirs?: string[] | false;
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** onnxruntime-node's root, resolved from `fromDir` (or this module when it is an ES module). */
export function ortPackageRoot(fromDir?: string): string {
  const base = fromDir
    ? pathToFileURL(join(fromDir, 'index.js')).href
    : (import.meta.url ?? pathToFileURL(join(process.cwd(), 'index.js')).href);
  const entry = createRequire(base).resolve('onnxruntime-node');
  // The entry is <root>/dist/index.js.
  return dirname(dirname(entry));
}

export function ortVersion(root = ortPackageRoot()): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The folder holding onnxruntime_binding.node for linux/x64: where the provider libraries must lie. */
export function ortBinDir(root = ortPackageRoot()): string {
  const bin = join(root, 'bin');
  const napi = existsSync(bin)
    ? readdirSync(bin)
        .filter((d) => /^napi-v\d+$/.test(d))
        .sort()
        .reverse()
    : [];
  for (const d of napi) {
    const dir = join(bin, d, 'linux', 'x64');
    if (existsSync(join(dir, 'onnxruntime_binding.node'))) return dir;
  }
  return join(bin, 'napi-v6', 'linux', 'x64');
}

function queryGpus(nvidiaSmi: string): GpuInfo[] | undefined {
  try {
    const out = execFileSync(nvidiaSmi, ['--query-gpu=name,memory.total,memory.free', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, total, free] = line.split(',').map((s) => s.trim());
        return { name: name ?? 'NVIDIA GPU', memoryTotalMiB: Number(total), memoryFreeMiB: Number(free) };
      });
  } catch {
    return undefined;
  }
}

/**
 * The driver's free memory on one GPU, in bytes (`nvidia-smi --query-gpu=memory.free`), or undefined when
 * nvidia-smi cannot tell. Asked right before a build, since other processes' use changes it.
 */
export function cudaFreeBytes(deviceId = 0, nvidiaSmi = 'nvidia-smi'): number | undefined {
  try {
    const out = execFileSync(nvidiaSmi, ['--query-gpu=memory.free', '--format=csv,noheader,nounits', `--id=${deviceId}`], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const mib = Number(out.trim().split('\n')[0]);
    return Number.isFinite(mib) && mib >= 0 ? mib * 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}

function findSystemLibs(names: string[], dirs: string[]): string[] {
  let cache = '';
  try {
    cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    // No ldconfig (or not on PATH): the directories alone decide.
  }
  return names.filter((n) => !cache.includes(`${n} `) && !dirs.some((d) => existsSync(join(d, n))));
}

/** Checks driver, GPU, provider libraries and CUDA's own libraries. Synchronous: it runs before any session. */
export function cudaStatus(opts: DetectOptions = {}): CudaStatus {
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  if (platform !== 'linux' || arch !== 'x64')
    return { usable: false, reason: `CUDA is supported on Linux x64 only (this is ${platform}/${arch})` };
  const versionText = safeRead(opts.driverVersionFile ?? '/proc/driver/nvidia/version');
  if (versionText === undefined) return { usable: false, reason: 'No NVIDIA driver found (no /proc/driver/nvidia/version)' };
  const driverVersion =
    /Kernel Module\s+(?:for \S+\s+)?([\d.]+)/.exec(versionText)?.[1] ?? /\b(\d{3,}\.\d+(?:\.\d+)?)\b/.exec(versionText)?.[1];
  const gpus = opts.nvidiaSmi === false ? undefined : queryGpus(opts.nvidiaSmi ?? 'nvidia-smi');
  if (gpus && gpus.length === 0)
    return { usable: false, reason: 'The NVIDIA driver is loaded but nvidia-smi lists no GPU', driverVersion, gpus };
  let providerDir: string;
  try {
    providerDir = opts.binDir ?? ortBinDir();
  } catch (err) {
    return { usable: false, reason: `onnxruntime-node not found (${(err as Error).message})`, driverVersion, gpus };
  }
  const missingProviderFiles = REQUIRED_PROVIDER_FILES.filter((f) => !existsSync(join(providerDir, f)));
  if (missingProviderFiles.length) {
    return {
      usable: false,
      reason: `CUDA provider libraries not installed (${missingProviderFiles.join(', ')} missing in ${providerDir}); fetch them with "KVzip: Set Up CUDA" or kvzip-code setup-cuda`,
      driverVersion,
      gpus,
      providerDir,
      missingProviderFiles,
    };
  }
  if (opts.libraryDirs !== false) {
    const dirs = [providerDir, ...(opts.libraryDirs ?? (process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean))];
    const missingSystemLibs = findSystemLibs(CUDA_SYSTEM_LIBS, dirs);
    if (missingSystemLibs.length) {
      return {
        usable: false,
        reason: `CUDA 12 / cuDNN 9 libraries not found (${missingSystemLibs.join(', ')}); install CUDA 12 and cuDNN 9 or add them to LD_LIBRARY_PATH`,
        driverVersion,
        gpus,
        providerDir,
        missingSystemLibs,
      };
    }
  }
  const gpuText = gpus?.length ? `${gpus[0]!.name}, ${gpus[0]!.memoryTotalMiB} MiB` : 'GPU';
  return { usable: true, reason: `${gpuText}, driver ${driverVersion ?? 'unknown'}`, driverVersion, gpus, providerDir };
}

export interface InstallOptions {
  /** Where the libraries go; defaults to onnxruntime-node's linux/x64 native folder. */
  binDir?: string;
  /** Defaults to the installed onnxruntime-node version (the provider must match it exactly). */
  version?: string;
  /** NuGet v3 service index; env KVZIP_NUGET_INDEX overrides the default. */
  feedIndex?: string;
  /** Where the .nupkg is kept while downloading, so an interrupted fetch resumes. */
  cacheDir?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** Downloads the onnxruntime GPU NuGet package and extracts the CUDA provider libraries. Returns their paths. */
export async function installCudaProvider(opts: InstallOptions = {}): Promise<string[]> {
  const version = (opts.version ?? ortVersion()).toLowerCase();
  const binDir = opts.binDir ?? ortBinDir();
  const index = opts.feedIndex ?? process.env.KVZIP_NUGET_INDEX ?? NUGET_INDEX;
  const name = NUGET_PACKAGE.toLowerCase();
  const service = await fetchJson<{ resources?: { '@type': string; '@id': string }[] }>(index, {
    signal: opts.signal,
    label: 'NuGet index',
  });
  const base = service.resources?.find((r) => r['@type'] === 'PackageBaseAddress/3.0.0')?.['@id'];
  if (!base) throw new Error(`The NuGet index at ${index} has no PackageBaseAddress/3.0.0`);
  const baseUrl = base.endsWith('/') ? base : `${base}/`;
  const versions = await fetchJson<{ versions?: string[] }>(`${baseUrl}${name}/index.json`, {
    signal: opts.signal,
    label: `${NUGET_PACKAGE} versions`,
  });
  if (!versions.versions?.includes(version)) {
    throw new Error(`${NUGET_PACKAGE} ${version} is not on ${index}; the CUDA provider must match onnxruntime-node ${version}`);
  }
  const file = `${name}.${version}.nupkg`;
  const cacheDir = opts.cacheDir ?? join(tmpdir(), 'kvzip-ort-cuda');
  const nupkg = join(cacheDir, file);
  await downloadFile(`${baseUrl}${name}/${version}/${file}`, nupkg, { signal: opts.signal, onProgress: opts.onProgress, label: file });
  const entries = await readZipEntries(nupkg);
  await mkdir(binDir, { recursive: true });
  const installed: string[] = [];
  for (const f of PROVIDER_FILES) {
    const entry = entries.get(PATH_IN_PACKAGE + f);
    if (!entry) {
      if (REQUIRED_PROVIDER_FILES.includes(f)) throw new Error(`${file} does not contain ${PATH_IN_PACKAGE + f}`);
      continue;
    }
    await extractZipEntry(nupkg, entry, join(binDir, f));
    installed.push(join(binDir, f));
  }
  await rm(nupkg, { force: true });
  return installed;
}
