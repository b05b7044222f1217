#!/usr/bin/env bash
# On a lent GPU machine (no Node, no network), as one command: builds the C++ core, psic_check
# and psic_bench against that machine's PyTorch LibTorch (CUDA), runs the checks that need no
# Node (the CUDA ones included) and the throughput benchmark on cuda and on the CPU. Everything
# lands in $OUT (the device tool brings it back): build.log, check.tap, bench-cuda.json,
# bench-cpu.json, gpu.txt. Stage .device/ first with scripts/device-stage.sh and carry it.
#
#   run: bash scripts/device-check.sh      (carry: [".device"])
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$root/out/device}"
mkdir -p "$out"
log() { echo "[device-check] $*" | tee -a "$out/summary.txt" >&2; }
[ -d "$root/.device/debs" ] || { log "no .device/: run scripts/device-stage.sh here and carry .device"; exit 1; }

deps=/tmp/psic-deps
mkdir -p "$deps"
for f in "$root"/.device/debs/*.deb; do dpkg -x "$f" "$deps"; done
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
torch_prefix="${PSIC_TORCH_PREFIX:-$(python3 -c "import torch; print(torch.utils.cmake_prefix_path)")}"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' > "$out/gpu.txt" 2>&1
nvidia-smi -L >> "$out/gpu.txt" 2>&1
nproc >> "$out/gpu.txt"

configure() {  # $1: build dir, $2: PSIC_WITH_DISTRIBUTED
  cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPSIC_BUILD_ADDON=OFF -DPSIC_WITH_DISTRIBUTED="$2" \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DICU_ROOT="$deps/usr" -DZLIB_ROOT="$deps/usr" \
    -Dnlohmann_json_DIR="$deps/usr/share/cmake/nlohmann_json" >> "$out/build.log" 2>&1 &&
    ninja -C "$1" -j "$(nproc)" psic_check psic_bench >> "$out/build.log" 2>&1
}
build=/tmp/psic-build
t0=$(date +%s)
if configure "$build" ON; then
  log "built with distributed training (c10d) in $(( $(date +%s) - t0 )) s"
else
  # c10d's C++ API moves between LibTorch versions: the codec and trainer checks still matter.
  log "build with c10d failed (see build.log); rebuilding without distributed training"
  rm -rf "$build"
  configure "$build" OFF || { log "build failed"; tail -40 "$out/build.log" >&2; exit 1; }
  log "built without distributed training in $(( $(date +%s) - t0 )) s"
fi
grep -E "PSIC_HAVE_(C10D_GLOO|NCCL)" "$build/CMakeCache.txt" | tee -a "$out/summary.txt" >&2

# The clip-tiny fixtures do not travel (size): the codec, device, batch and training cases do.
export PSIC_SHARED="$root/.device/shared"
: > "$out/check.tap"
for filter in "cuda:" "device:" "batch:" "fixtures:" "rans:" "codec:" "hyper scales" "entropy tables" "training forward" "synthesis:" "psic" "losses" "uaeo" "trainer"; do
  "$build/psic_check" "$filter" >> "$out/check.tap" 2>&1
done
log "checks: $(grep -c '^ok' "$out/check.tap") ok, $(grep -c '^not ok' "$out/check.tap") not ok, $(grep -c '# SKIP' "$out/check.tap") skipped"
grep '^not ok' "$out/check.tap" | tee -a "$out/summary.txt" >&2

ckpt="$PSIC_SHARED/fixtures/compressai-hyperprior/hyperprior-N128-M192.pth.tar"
timeout 240 "$build/psic_bench" --model "$ckpt" --device cuda --runs 5 > "$out/bench-cuda.json" 2>> "$out/bench.log"
log "bench cuda: exit $?"
timeout 120 "$build/psic_bench" --model "$ckpt" --device cpu --runs 3 --sizes 768x512 --train-steps 2 --no-clip > "$out/bench-cpu.json" 2>> "$out/bench.log"
log "bench cpu: exit $?"
