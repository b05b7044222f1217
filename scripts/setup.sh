#!/usr/bin/env bash
# One-step set-up on Debian 12: system packages, npm packages, the native addon (cmake-js) and
# the compiled TypeScript. Idempotent: each step runs only when its output is missing or stale.
#   bash scripts/setup.sh              do whatever is needed
#   bash scripts/setup.sh --if-needed  same, quietly when everything is up to date
#   bash scripts/setup.sh --build      force a rebuild of the addon and the TypeScript
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
say() { [ "$mode" = "--if-needed" ] && [ -z "${did_something:-}" ] && echo "psic setup:" >&2; did_something=1; echo "  $*" >&2; }

# 1. System packages (LibTorch CPU from Debian, Gloo headers for its c10d process groups, OpenBLAS
#    with OpenMP, OpenSSL's libcrypto for key derivation, build tools).
packages=(libtorch-dev libgloo-dev libopenblas0-openmp nlohmann-json3-dev libicu-dev zlib1g-dev libssl-dev cmake ninja-build g++ ccache)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# 2. npm packages, when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund >&2
fi

newer_than() {  # newer_than OUTPUT PATHS...: true when OUTPUT is missing or any source is newer
  local out="$1"; shift
  [ -e "$out" ] || return 0
  [ -n "$(find "$@" -newer "$out" -type f -print -quit 2>/dev/null)" ]
}

# 3. The native addon and the C++ check binary.
if [ "$mode" = "--build" ] || newer_than build/Release/psic.node cpp binding CMakeLists.txt; then
  say "cmake-js compile (addon + psic_check)"
  launcher=()
  command -v ccache >/dev/null && launcher=(--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  npx --no-install cmake-js compile --out build --config Release --parallel "$(nproc)" ${Torch_DIR:+--CDTorch_DIR="$Torch_DIR"} "${launcher[@]}" >&2
  touch build/Release/psic.node
fi

# 4. The TypeScript (dist/ for the package entry and the psic bin).
if [ "$mode" = "--build" ] || newer_than dist/index.js src tsconfig.json; then
  say "tsc"
  npx --no-install tsc -p tsconfig.json >&2
  touch dist/index.js
fi
# 5. The shipped model: its trained conditioning over the shared seed checkpoint it was trained
#    from (the seed's weights stay in ../shared; only the 2.5 MB conditioning is in the repo).
shipped=models/psic-balle-faces.safetensors
seed="${PSIC_SHARED:-$(cd .. && pwd)/shared}/models/hyperprior-N128-M192-seed.pth.tar"
if [ ! -e "$shipped" ] && [ -e "$seed" ]; then
  say "build $shipped (seed checkpoint + models/psic-balle-faces.conditioning.safetensors)"
  node bin/psic.js model init --arch psic-balle --N 128 --M 192 --seed 0 --from "$seed" \
    --conditioning models/psic-balle-faces.conditioning.safetensors -o "$shipped" >&2
fi
# 6. The demo key, mode 0600 like any key (git records only 644/755): psic warns about key
#    files that group or others can read, and the demo key is no exception.
chmod 600 models/demo-owner.key 2>/dev/null || true
exit 0
