#!/usr/bin/env bash
# Runs bench:gpu on a lent NVIDIA machine from what bench/gpu-pack.sh packed (copied there as .gpu/run.sh).
# WebGPU reaches the GPU through Vulkan: the loader comes from the packed .deb files, the driver is NVIDIA's ICD.
# Results are copied to $OUT (the device tool's folder that comes back), else left under /tmp/kvzip-gpu.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=/tmp/kvzip-gpu
rm -rf "$ROOT" && mkdir -p "$ROOT"
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' payload.tar.xz "$ROOT"
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in "$ROOT"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
export PATH="$ROOT/bin:$PATH"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.free --format=csv,noheader || true
node "$ROOT/app/bench/gpu.bench.js" "$@"
if [ -n "${OUT:-}" ]; then cp "$ROOT"/app/bench/results/gpu-*.json "$OUT"/; fi
