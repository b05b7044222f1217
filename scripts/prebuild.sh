#!/usr/bin/env bash
# npm run prebuild: the prebuilt addon prebuilds/linux-x64/node.napi.glibc.node, made with
# prebuildify from the cmake-js build. prebuildify only drives node-gyp ("NODE_GYP rebuild ..."),
# then strips the .node it finds in CWD/build/Release and moves it into OUT/prebuilds/. So this
# script is also its --node-gyp: called with "rebuild", it copies the addon that
# scripts/setup.sh built (incrementally, with ccache) into prebuildify's staging folder, which
# keeps build/Release/psic.node in place for the tests. The prebuild links Debian 12's LibTorch
# 1.13 (libtorch-dev / libtorch1.13), OpenMP and ICU 72 as shared libraries.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ "${1:-}" = "rebuild" ]; then  # prebuildify's node-gyp call; cwd = the staging folder
  mkdir -p build/Release
  cp "$root/build/Release/psic.node" build/Release/psic.node
  exit 0
fi

cd "$root"
bash scripts/setup.sh --if-needed >&2
stage="$root/build/prebuild-stage"
rm -rf "$stage" prebuilds
mkdir -p "$stage"
npx --no-install prebuildify --napi --strip --tag-libc --out "$root" --cwd "$stage" --node-gyp "$root/scripts/prebuild.sh"
rm -rf "$stage"
ls -l prebuilds/*/ >&2
