// The key-search adversary: it has the model and the bitstreams but not the key, and runs
// gradient descent on the condition vector itself (the key only ever reaches the decoder as
// that vector) to get the full decode back. Since one key's condition serves all of an owner's
// images, one condition is searched for a whole set of bitstreams. The objective is an oracle's
// (it reads the clean images), so what it reaches bounds what a real adversary can.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "formats/container.h"
#include "models/compression_model.h"
#include "targets/target_model.h"

namespace psic {

enum class KeySearchObjective {
  Target,  // maximise the targets' agreement with their reading of the clean image
  Pixels,  // minimise the MSE to the clean image (the full decode is the MSE-optimal one)
};

struct KeySearchOptions {
  KeySearchObjective objective = KeySearchObjective::Target;
  int steps = 500;
  int restarts = 3;
  double lr = 0.02;           // Adam, on the unbounded parameter u of c = tanh(u)
  bool bounded = true;        // c in (−1, 1)^d, where HKDF puts every key's condition
  int trace_every = 10;       // objective samples kept per restart
  uint64_t seed = 0;
};

// One bitstream's latents and the clean image it should decode to.
struct KeySearchItem {
  at::Tensor y_hat;  // [1, M, h, w]
  at::Tensor clean;  // [1, 3, H, W] in [0, 1], the original size
  Padding padding;   // where the original sits in the decode
};

struct KeySearchResult {
  at::Tensor condition;  // [d], the best found over all steps and restarts
  double objective = 0;  // its loss: −agreement (Target) or MSE (Pixels), mean over items
  std::vector<std::vector<double>> traces;  // per restart: the loss every trace_every steps, then the last
};

// Throws InputError on bad options, an unconditional model or mismatched items.
KeySearchResult key_search(const CompressionModel& model, const std::vector<KeySearchItem>& items,
                           const std::vector<AttackTarget>& targets, const KeySearchOptions& options);

}  // namespace psic
