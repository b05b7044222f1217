// The attacks the evaluation compares PSIC with (cpp/attacks/): per-image PGD cloaking and the
// key-search adversary. Both run in AsyncWorkers.
#pragma once
#include <napi.h>

namespace psic_binding {

// pgdCloak(targets: [{target, weight}], images: Float32Array, shape: [B, 3, H, W],
//          {epsilon, steps, stepSize, randomStart, seed}): Promise<{data, shape}>
Napi::Value PgdCloak(const Napi::CallbackInfo& info);
// keySearch(model: NativeModel, containers: Uint8Array[], originals: Uint8Array[] (HWC RGB of
//           each container's size), targets: [{target, weight}],
//           {objective: 'target' | 'pixels', steps, restarts, lr, bounded, traceEvery, seed}):
//   Promise<{condition: Float32Array, objective: number, traces: number[][]}>
Napi::Value KeySearch(const Napi::CallbackInfo& info);

}  // namespace psic_binding
