#include "entropy/entropy_model.h"

#include <string>

#include "entropy/quantized_cdf.h"
#include "errors.h"

namespace psic {

EntropyModel::EntropyModel()
    : quantized_cdf(at::empty({0}, at::kInt)),
      cdf_length(at::empty({0}, at::kInt)),
      offset(at::empty({0}, at::kInt)),
      likelihood_lower_bound(at::full({1}, 1e-9, at::kFloat)) {}

void EntropyModel::visit_entropy_buffers(const std::string& prefix, const StateVisitor& visit) {
  visit(join_name(prefix, "_offset"), offset, StateKind::Buffer);
  visit(join_name(prefix, "_quantized_cdf"), quantized_cdf, StateKind::Buffer);
  visit(join_name(prefix, "_cdf_length"), cdf_length, StateKind::Buffer);
  visit(join_name(prefix, "likelihood_lower_bound.bound"), likelihood_lower_bound, StateKind::Buffer);
}

void EntropyModel::validate_tables() const {
  if (quantized_cdf.dim() != 2 || quantized_cdf.scalar_type() != at::kInt)
    throw WeightsError("entropy model tables missing: _quantized_cdf must be int32 [rows, len] (run update())");
  const int64_t rows = quantized_cdf.size(0);
  if (cdf_length.numel() != rows || offset.numel() != rows || cdf_length.scalar_type() != at::kInt ||
      offset.scalar_type() != at::kInt)
    throw WeightsError("entropy model tables: _cdf_length and _offset must be int32 [" + std::to_string(rows) + "]");
  validate_cdf_table(table());
}

CdfTable EntropyModel::table() const {
  CdfTable t;
  t.cdfs = quantized_cdf.data_ptr<int32_t>();
  t.stride = quantized_cdf.size(1);
  t.lengths = cdf_length.data_ptr<int32_t>();
  t.offsets = offset.data_ptr<int32_t>();
  t.rows = quantized_cdf.size(0);
  return t;
}

std::vector<uint8_t> EntropyModel::encode(const at::Tensor& symbols, const at::Tensor& indexes) const {
  at::Tensor s = symbols.to(at::kCPU, at::kInt).contiguous();
  at::Tensor i = indexes.to(at::kCPU, at::kInt).contiguous();
  return rans_encode(s.data_ptr<int32_t>(), i.data_ptr<int32_t>(), static_cast<size_t>(s.numel()), table());
}

at::Tensor EntropyModel::decode(const uint8_t* data, size_t size, const at::Tensor& indexes) const {
  at::Tensor i = indexes.to(at::kCPU, at::kInt).contiguous();
  at::Tensor out = at::empty(i.sizes(), at::kInt);
  rans_decode(data, size, i.data_ptr<int32_t>(), static_cast<size_t>(i.numel()), table(), out.data_ptr<int32_t>());
  return out;
}

namespace {
thread_local BatchShard current_shard;
}

ScopedBatchShard::ScopedBatchShard(BatchShard shard) : previous_(current_shard) { current_shard = shard; }
ScopedBatchShard::~ScopedBatchShard() { current_shard = previous_; }

at::Tensor EntropyModel::add_noise(const at::Tensor& x, int64_t batch_dim) {
  const BatchShard shard = current_shard;
  if (shard.total == 0) return x + at::empty_like(x).uniform_(-0.5, 0.5);
  std::vector<int64_t> shape = x.sizes().vec();
  shape[static_cast<size_t>(batch_dim)] = shard.total;
  // CPU uniform_ fills a contiguous tensor element by element in memory order, so this rank's
  // slice of the combined draw is what one process would add to these rows.
  at::Tensor noise = at::empty(shape, x.options()).uniform_(-0.5, 0.5);
  return x + noise.narrow(batch_dim, shard.offset, x.size(batch_dim));
}

void EntropyModel::set_tables_from_pmf(const at::Tensor& pmf, const at::Tensor& tail_mass,
                                       const at::Tensor& pmf_length) {
  const int64_t rows = pmf.size(0), max_len = pmf.size(1);
  at::Tensor p = pmf.to(at::kCPU, at::kFloat).contiguous();
  at::Tensor tail = tail_mass.to(at::kCPU, at::kFloat).contiguous().reshape({rows});
  at::Tensor lengths = pmf_length.to(at::kCPU, at::kInt).contiguous();
  at::Tensor cdf = at::zeros({rows, max_len + 2}, at::kInt);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t len = lengths.data_ptr<int32_t>()[r];
    std::vector<float> prob(p.data_ptr<float>() + r * max_len, p.data_ptr<float>() + r * max_len + len);
    prob.push_back(tail.data_ptr<float>()[r]);
    const std::vector<int32_t> row = pmf_to_quantized_cdf(prob);
    std::copy(row.begin(), row.end(), cdf.data_ptr<int32_t>() + r * (max_len + 2));
  }
  quantized_cdf = cdf;
  cdf_length = lengths + 2;
}

}  // namespace psic
