// What every image model offers the codec: analysis g_a, a latent codec, and a synthesis that
// may read a condition vector (PSIC) or not (the plain CompressAI backbones). compress() never
// sees the condition: one bitstream serves every decode.
#pragma once
#include <map>
#include <memory>

#include "models/latent_codec.h"
#include "models/model_config.h"

namespace psic {

class CompressionModel : public StateOwner {
 public:
  explicit CompressionModel(const ModelConfig& config);

  // Analysis transform of the Ballé models: conv(3,N) GDN conv(N,N) GDN conv(N,N) GDN conv(N,M),
  // all 5x5 stride 2.
  static Sequential make_analysis(int64_t N, int64_t M);

  virtual LatentCodec& latent() = 0;
  const LatentCodec& latent() const { return const_cast<CompressionModel*>(this)->latent(); }
  // x_hat (unclamped) from y_hat; condition: [B, d], or undefined for unconditional models.
  virtual at::Tensor synthesize(const at::Tensor& y_hat, const at::Tensor& condition,
                                const ForwardOptions& options) const = 0;

  // The decode of a sealed file's public section, whose latent already holds the protected
  // image: the backbone's own synthesis where the model keeps one (psic-balle's g_s without
  // the CLTG shifts), so the protection is not applied twice. nullopt-like: undefined when the
  // model has none (the public section then decodes with the protected condition).
  virtual at::Tensor backbone_synthesize(const at::Tensor& y_hat, const ForwardOptions& options) const { return at::Tensor(); }
  virtual bool has_backbone_synthesis() const { return false; }

  // 0 for unconditional models.
  int64_t condition_dim() const { return config.condition_dim; }
  // The public condition of the protected decode (PSIC): d values.
  at::Tensor protected_condition() const;

  void prepare_inference();

  // Inference on a GPU: moves g_a, h_a and the synthesis to `device`; the latent codec's coding
  // state (coding_state_prefixes) stays on the CPU. compress() then takes x on that device and
  // decode() returns x_hat there. Training moves the whole model instead (move_state).
  void place_transforms(at::Device device);
  at::Device transform_device() const { return transform_device_; }
  void update_entropy_tables() { latent().update_entropy_tables(); }
  void validate_entropy_tables() const { latent().validate_entropy_tables(); }

  struct ForwardResult {
    at::Tensor x_hat;
    std::vector<at::Tensor> likelihoods;  // y's, then z's
  };
  // Training forward on a padded batch [B, 3, H, W] (H, W multiples of 64).
  ForwardResult forward(const at::Tensor& x, bool training, const at::Tensor& condition = at::Tensor());

  // x: [1, 3, H, W] padded input in [0, 1].
  LatentStrings compress(const at::Tensor& x, const ForwardOptions& options, StageTimings* timings,
                         LatentShapes* shapes) const;
  // x_hat [B, 3, H, W] clamped to [0, 1] (not cropped) from entropy-decoded latents
  // (latent().decompress). condition may be undefined: the model then uses its protected
  // condition (or none).
  at::Tensor decode(const at::Tensor& y_hat, const at::Tensor& condition, const ForwardOptions& options,
                    StageTimings* timings) const;
  double estimate_bits(const at::Tensor& x);

  // Learnable parameter counts: "total" and one per top-level component (g_a, h_a, h_s,
  // entropy_bottleneck, g_s or g_s_cond, global_cond), plus "cltg_projections".
  std::map<std::string, int64_t> parameter_counts();

  ModelConfig config;
  Sequential g_a;

 protected:
  virtual void prepare_synthesis() = 0;
  at::Device transform_device_ = at::Device(at::kCPU);
  at::Tensor resolve_condition(const at::Tensor& condition) const;
};

// Builds the model an architecture names (config.architecture), randomly initialized.
std::shared_ptr<CompressionModel> build_model(const ModelConfig& config);

}  // namespace psic
