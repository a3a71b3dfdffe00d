#!/usr/bin/env bash
# Installs code-server 4.100.3 (the last release for Node 20) offline from npm into its own folder, outside the
# project's node_modules, plus Debian's chromium for the UI tests (its SwiftShader Vulkan driver, with the Vulkan
# loader libvulkan1, is also the WebGPU adapter of the WebGPU suites). Idempotent: returns at once when installed.
# Folder: $KVZIP_CODE_SERVER_DIR, default ~/.cache/kvzip-code/code-server. Prints the code-server binary path last.
set -euo pipefail

VERSION=4.100.3
DIR="${KVZIP_CODE_SERVER_DIR:-$HOME/.cache/kvzip-code/code-server}"
BIN="$DIR/node_modules/.bin/code-server"
STAMP="$DIR/.installed-$VERSION"

need_apt=()
for pkg in libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep chromium libvulkan1 build-essential python3; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-code-server: apt-get install ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

if [ -f "$STAMP" ] && [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$DIR"
# @vscode/ripgrep downloads its binary from GitHub unless this cache already holds the tarball: give it Debian's rg.
RG_TMP="$(mktemp -d)"
trap 'rm -rf "$RG_TMP"' EXIT
RG_CACHE="$RG_TMP/vscode-ripgrep-cache-1.15.11"
mkdir -p "$RG_CACHE/pkg/bin"
cp "$(command -v rg)" "$RG_CACHE/pkg/bin/rg"
tar -czf "$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$RG_CACHE/pkg/bin" rg
rm -rf "$RG_CACHE/pkg"

[ -f "$DIR/package.json" ] || echo '{"name":"kvzip-code-server-host","private":true}' > "$DIR/package.json"
echo "install-code-server: npm install code-server@$VERSION into $DIR (builds native modules, several minutes)" >&2
(
  cd "$DIR"
  # Root needs unsafe-perm for the postinstall; this npm defaults to yes=false, which stalls npx prompts in it.
  TMPDIR="$RG_TMP" npm_config_unsafe_perm=true npm_config_yes=true ONNXRUNTIME_NODE_INSTALL=skip \
    npm install --no-audit --no-fund --no-save "code-server@$VERSION" >&2
)
"$BIN" --version >&2
touch "$STAMP"
echo "$BIN"
