#include "codec.h"

#include <chrono>
#include <cmath>

#include "errors.h"
#include "util/threads.h"

namespace psic {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Measured on a 2-core AVX-512 CPU at 768x512 (benchmarks/): channels-last halves g_a's time at
// 2 threads; for g_s the sub-pixel rewrite is what counts and channels-last adds nothing.
ForwardOptions encoder_options(const CodecOptions& o) {
  ForwardOptions f;
  f.channels_last = o.fast;
  return f;
}

ForwardOptions decoder_options(const CodecOptions& o) {
  ForwardOptions f;
  f.subpixel_deconv = o.subpixel < 0 ? o.fast : o.subpixel == 1;
  return f;
}

int call_threads(const CodecOptions& o) { return o.threads > 0 ? o.threads : intra_op_threads(); }

std::array<uint8_t, 16> id_prefix(const std::string& hex) {
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < 16; ++i) out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}
}  // namespace

std::shared_ptr<Codec> Codec::load(const std::string& path) {
  ScopedIntraOpThreads threads(intra_op_threads());
  return std::make_shared<Codec>(load_model(path));
}

Codec::Codec(LoadedModel loaded) : loaded_(std::move(loaded)), container_id_(id_prefix(loaded_.model_id)) {}

at::Tensor image_to_padded_tensor(const uint8_t* rgb, int64_t width, int64_t height, const Padding& p) {
  at::Tensor hwc = at::from_blob(const_cast<uint8_t*>(rgb), {height, width, 3}, at::kByte);
  at::Tensor x = hwc.permute({2, 0, 1}).contiguous().to(at::kFloat).div(255).unsqueeze(0);
  return at::constant_pad_nd(x, {p.left, p.right, p.top, p.bottom}, 0);
}

CompressResult Codec::compress(const uint8_t* rgb, int64_t width, int64_t height, const CodecOptions& options) const {
  if (width <= 0 || height <= 0) throw InputError("image dimensions must be positive");
  if (static_cast<uint64_t>(width) * static_cast<uint64_t>(height) > options.pixel_limit)
    throw LimitError("image is " + std::to_string(width) + "x" + std::to_string(height) + ", over the pixel limit of " +
                     std::to_string(options.pixel_limit));
  if (width > 0xFFFFFF || height > 0xFFFFFF) throw LimitError("image dimensions are too large");
  at::NoGradGuard no_grad;
  ScopedIntraOpThreads threads(call_threads(options));
  const auto t0 = Clock::now();
  CompressResult result;
  StageTimings stages;

  auto tp = Clock::now();
  const Padding padding = compute_padding(height, width);
  const at::Tensor x = image_to_padded_tensor(rgb, width, height, padding);
  stages.transform_ms += ms_since(tp);

  LatentShapes shapes{};
  const LatentStrings strings = model().compress(x, encoder_options(options), &stages, &shapes);
  if (strings.y.size() > UINT32_MAX || strings.z.size() > UINT32_MAX) throw LimitError("bitstream too large");

  ContainerHeader h;
  h.model_id = container_id_;
  h.height = static_cast<uint32_t>(height);
  h.width = static_cast<uint32_t>(width);
  h.padding = padding;
  h.y_shape = {static_cast<uint32_t>(shapes.y_channels), static_cast<uint32_t>(shapes.y_height),
               static_cast<uint32_t>(shapes.y_width)};
  h.z_shape = {static_cast<uint32_t>(shapes.z_channels), static_cast<uint32_t>(shapes.z_height),
               static_cast<uint32_t>(shapes.z_width)};
  result.container = write_container(h, strings.z, strings.y);
  result.timings = {stages.transform_ms, stages.entropy_ms, ms_since(t0)};
  if (options.estimate_bits) result.estimated_bits = model().estimate_bits(x);
  return result;
}

DecodedLatents Codec::decode_latents(const uint8_t* data, size_t size, const CodecOptions& options,
                                     StageTimings* timings) const {
  const ParsedContainer parsed = parse_container(data, size, options.pixel_limit);
  const ContainerHeader& h = parsed.header;
  if (h.model_id != container_id_)
    throw ModelMismatchError("this .psic file was made by model " + model_id_hex(h.model_id) +
                             ", not by the loaded model " + model_id_hex(container_id_));
  const auto& cfg = model().config;
  if (h.y_shape[0] != cfg.M || h.z_shape[0] != (cfg.has_hyperprior() ? cfg.N : 0))
    throw FormatError(".psic latent channels do not match the model");
  at::NoGradGuard no_grad;
  LatentStrings strings;
  strings.z.assign(parsed.z, parsed.z + h.z_length);
  strings.y.assign(parsed.y, parsed.y + h.y_length);
  const LatentShapes shapes{h.y_shape[0], h.y_shape[1], h.y_shape[2], h.z_shape[0], h.z_shape[1], h.z_shape[2]};
  return {model().latent().decompress(strings, shapes, timings), h};
}

DecompressResult Codec::decompress(const uint8_t* data, size_t size, const CodecOptions& options,
                                   bool float_output, const std::vector<float>& condition) const {
  const auto& cfg = model().config;
  at::Tensor c;
  if (!condition.empty()) {
    if (cfg.condition_dim == 0) throw KeyError("this model takes no key: it has a single decode");
    if (static_cast<int64_t>(condition.size()) != cfg.condition_dim)
      throw KeyError("condition has " + std::to_string(condition.size()) + " values, the model expects " +
                     std::to_string(cfg.condition_dim));
    c = at::tensor(condition, at::kFloat).view({1, cfg.condition_dim});
  }

  at::NoGradGuard no_grad;
  ScopedIntraOpThreads threads(call_threads(options));
  const auto t0 = Clock::now();
  StageTimings stages;
  const DecodedLatents latents = decode_latents(data, size, options, &stages);
  const ContainerHeader& h = latents.header;
  at::Tensor x_hat = model().decode(latents.y_hat, c, decoder_options(options), &stages);

  auto tp = Clock::now();
  // Crop the padding, then HWC.
  x_hat = x_hat[0]
              .slice(1, h.padding.top, h.padding.top + h.height)
              .slice(2, h.padding.left, h.padding.left + h.width)
              .permute({1, 2, 0})
              .contiguous();
  DecompressResult out;
  out.width = h.width;
  out.height = h.height;
  if (float_output) {
    out.rgb32.assign(x_hat.data_ptr<float>(), x_hat.data_ptr<float>() + x_hat.numel());
  } else {
    at::Tensor u8 = at::round(x_hat * 255).clamp_(0, 255).to(at::kByte);
    out.rgb8.assign(u8.data_ptr<uint8_t>(), u8.data_ptr<uint8_t>() + u8.numel());
  }
  stages.transform_ms += ms_since(tp);
  out.timings = {stages.transform_ms, stages.entropy_ms, ms_since(t0)};
  return out;
}

}  // namespace psic
