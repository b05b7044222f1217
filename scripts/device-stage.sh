#!/usr/bin/env bash
# Here, before a GPU check: stages what the GPU machine lacks into .device/ (git-ignored; name it
# in the device tool's carry): the CompressAI fixtures psic_check and psic_bench read, and the
# Debian packages of the C++ core's build dependencies (ICU, nlohmann-json, zlib headers), which
# that machine (no network, no apt) cannot fetch. Then run scripts/device-check.sh there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${PSIC_SHARED:-$(cd "$root/.." && pwd)/shared}"
fixtures="$shared/fixtures/compressai-hyperprior"
[ -d "$fixtures" ] || { echo "device-stage: $fixtures not found (set PSIC_SHARED)" >&2; exit 1; }
rm -rf "$root/.device"
mkdir -p "$root/.device/shared/fixtures" "$root/.device/debs"
cp -r "$fixtures" "$root/.device/shared/fixtures/"
(cd "$root/.device/debs" && apt-get download nlohmann-json3-dev libicu-dev libicu72 zlib1g-dev 2>/dev/null)
du -sh "$root/.device" >&2
