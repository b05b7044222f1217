// What EntropyBottleneck and GaussianConditional share (CompressAI's EntropyModel): the
// quantized CDF tables and their state_dict buffers, quantization, and rANS coding of integer
// symbols against those tables.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "entropy/rans.h"
#include "nn/module.h"

namespace psic {

// Data-parallel training: this thread's forward sees rows [offset, offset + n) of a combined
// batch of `total` rows. add_noise then draws the noise of the whole combined batch and keeps
// its rows, so each rank adds exactly what one process on the combined batch would.
struct BatchShard {
  int64_t offset = 0;
  int64_t total = 0;  // 0: no shard, the batch is all there is
};

// Sets this thread's BatchShard for a scope.
class ScopedBatchShard {
 public:
  explicit ScopedBatchShard(BatchShard shard);
  ~ScopedBatchShard();
  ScopedBatchShard(const ScopedBatchShard&) = delete;
  ScopedBatchShard& operator=(const ScopedBatchShard&) = delete;

 private:
  BatchShard previous_;
};

class EntropyModel : public StateOwner {
 public:
  EntropyModel();

  // Buffers, under CompressAI's names (_quantized_cdf, _cdf_length, _offset,
  // likelihood_lower_bound.bound).
  void visit_entropy_buffers(const std::string& prefix, const StateVisitor& visit);

  // Checks the loaded tables once, so that coding never meets an invalid CDF.
  void validate_tables() const;
  bool has_tables() const { return quantized_cdf.numel() > 0; }
  CdfTable table() const;

  // Codes int32 symbols (C-order) with per-symbol CDF rows.
  std::vector<uint8_t> encode(const at::Tensor& symbols, const at::Tensor& indexes) const;
  at::Tensor decode(const uint8_t* data, size_t size, const at::Tensor& indexes) const;

  // Training-time quantization proxy: x + U(-0.5, 0.5), drawn in x's (contiguous) element
  // order; batch_dim is the batch's dimension (for the BatchShard).
  static at::Tensor add_noise(const at::Tensor& x, int64_t batch_dim = 0);

  // Builds [rows, max_len + 2] tables from per-row pmfs and tail masses (CompressAI's _pmf_to_cdf).
  void set_tables_from_pmf(const at::Tensor& pmf, const at::Tensor& tail_mass, const at::Tensor& pmf_length);

  at::Tensor quantized_cdf;           // int32 [rows, max_len]
  at::Tensor cdf_length;              // int32 [rows]
  at::Tensor offset;                  // int32 [rows]
  at::Tensor likelihood_lower_bound;  // float [1] = 1e-9
};

}  // namespace psic
