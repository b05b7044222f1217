// Sealed files (container version 3): the public section is the protected image's own latent
// (the protected decode, re-encoded by the model's encoder), so the public bytes hold nothing
// the full image needs beyond it; the full latent ŷ is sealed, coded conditionally on the public
// latent ŷ_p: the integer residual ŷ − ŷ_p less a per-channel bias b_c, with the public
// hyperprior's scales shrunk by a per-channel 2^s_c (the protection shifts whole channels, and
// the residual is far narrower than y) — or, when that is not smaller, as ŷ's own z and y
// strings (simulcast). The full decode with the
// key is that of the unsealed file: the same ŷ, the same condition, the same synthesis.
#include <cstring>

#include "codec.h"
#include "codec_internal.h"
#include "crypto/sealing.h"
#include "errors.h"
#include "models/hyperprior_latent_codec.h"
#include "models/keys.h"
#include "util/device.h"

namespace psic {

namespace {

constexpr int kMaxScaleShift = 7;

const HyperpriorLatentCodec& hyperprior_of(const CompressionModel& model) {
  const auto* hyper = dynamic_cast<const HyperpriorLatentCodec*>(&model.latent());
  if (!hyper || model.config.condition_dim == 0)
    throw InputError("sealing needs a PSIC model on the scale hyperprior (psic-balle, psic-hyperprior, reference), not " +
                     model.config.architecture);
  return *hyper;
}

void put_u32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t get_u32(const Bytes& b, size_t at) {
  if (at + 4 > b.size()) throw FormatError(".psic sealed section is malformed");
  return uint32_t(b[at]) | (uint32_t(b[at + 1]) << 8) | (uint32_t(b[at + 2]) << 16) | (uint32_t(b[at + 3]) << 24);
}

// The conditional coding of a residual: per channel, the bias and scale shift it is coded with.
struct ResidualCode {
  std::vector<int8_t> bias;
  std::vector<uint8_t> shift;
  std::vector<uint8_t> string;
};

// Per channel: the bias is the rounded mean; the shift minimizes the estimated bits of the
// residual less the bias (−log2 of the Gaussian conditional's likelihoods). One rANS pass.
ResidualCode code_residual(const HyperpriorLatentCodec& hyper, const at::Tensor& residual, const at::Tensor& scales) {
  const int64_t channels = residual.size(0);
  ResidualCode out;
  const at::Tensor bias = at::round(residual.mean({1, 2})).clamp(-127, 127);
  const at::Tensor centred = residual - bias.view({-1, 1, 1});
  at::Tensor best_bits, best_shift;
  for (int shift = 0; shift <= kMaxScaleShift; ++shift) {
    const at::Tensor lik = at::clamp_min(hyper.gaussian_conditional.likelihood(centred, scales / static_cast<double>(int64_t(1) << shift)), 1e-9);
    const at::Tensor bits = -at::log2(lik).sum({1, 2});
    if (shift == 0) {
      best_bits = bits;
      best_shift = at::zeros({channels}, at::kLong);
    } else {
      const at::Tensor better = bits < best_bits;
      best_bits = at::where(better, bits, best_bits);
      best_shift = at::where(better, at::full({channels}, shift, at::kLong), best_shift);
    }
  }
  const at::Tensor b = bias.to(at::kLong).contiguous(), sh = best_shift.contiguous();
  for (int64_t c = 0; c < channels; ++c) {
    out.bias.push_back(static_cast<int8_t>(b[c].item<int64_t>()));
    out.shift.push_back(static_cast<uint8_t>(sh[c].item<int64_t>()));
  }
  out.string = hyper.gaussian_conditional.compress(centred, hyper.shifted_indexes(scales, out.shift));
  return out;
}

// The sealed plaintext: u32 d, d float32 (the full condition: recipients hold no owner key),
// then the coded full latent (simulcast: u32 z length, z string, y string; conditional: M int8
// biases, M uint8 scale shifts, the residual's y string). Little-endian.
Bytes sealed_plaintext(const std::vector<float>& condition, SealedCoding coding, const LatentStrings& full, const ResidualCode& residual) {
  Bytes out;
  put_u32(out, static_cast<uint32_t>(condition.size()));
  const size_t at = out.size();
  out.resize(at + 4 * condition.size());
  std::memcpy(out.data() + at, condition.data(), 4 * condition.size());
  if (coding == SealedCoding::Simulcast) {
    put_u32(out, static_cast<uint32_t>(full.z.size()));
    out.insert(out.end(), full.z.begin(), full.z.end());
    out.insert(out.end(), full.y.begin(), full.y.end());
  } else {
    for (int8_t b : residual.bias) out.push_back(static_cast<uint8_t>(b));
    out.insert(out.end(), residual.shift.begin(), residual.shift.end());
    out.insert(out.end(), residual.string.begin(), residual.string.end());
  }
  return out;
}

LatentShapes shapes_of(const ContainerHeader& h) {
  return {h.y_shape[0], h.y_shape[1], h.y_shape[2], h.z_shape[0], h.z_shape[1], h.z_shape[2]};
}

}  // namespace

CompressResult Codec::compress_sealed(const at::Tensor& x, int64_t width, int64_t height, const Padding& padding,
                                      const CodecOptions& options, StageTimings& stages) const {
  const HyperpriorLatentCodec& hyper = hyperprior_of(model());
  if (options.key.empty()) throw KeyError("sealing needs the owner's key");
  const ForwardOptions forward = encoder_options(options);

  // The full latent, exactly as an unsealed file codes it.
  auto t = Clock::now();
  const at::Tensor y = model().g_a.forward(x, forward).contiguous();
  stages.transform_ms += ms_since(t);
  LatentShapes shapes{};
  const LatentStrings full = model().latent().compress(y, forward, &stages, &shapes);
  const at::Tensor y_hat = at::round(y.cpu());

  // The public section: the protected decode, cropped and padded as an input, re-encoded.
  const at::Tensor x_p = model().decode(y_hat, at::Tensor(), decoder_options(options), &stages);
  t = Clock::now();
  const at::Tensor x_p_input = at::constant_pad_nd(
      x_p.slice(2, padding.top, padding.top + height).slice(3, padding.left, padding.left + width),
      {padding.left, padding.right, padding.top, padding.bottom}, 0);
  const at::Tensor y_p = model().g_a.forward(x_p_input, forward).contiguous();
  stages.transform_ms += ms_since(t);
  const LatentStrings public_strings = model().latent().compress(y_p, forward, &stages, nullptr);

  // The sealed coding: the residual against the public latent, or simulcast when smaller.
  t = Clock::now();
  const at::Tensor residual = (y_hat - at::round(y_p.cpu()))[0].contiguous();
  ResidualCode best;
  if (options.sealed_coding != static_cast<int>(SealedCoding::Simulcast))
    best = code_residual(hyper, residual, hyper.public_scales(public_strings.z, shapes));
  const size_t simulcast_size = 4 + full.z.size() + full.y.size();
  const size_t conditional_size = 2 * best.bias.size() + best.string.size();
  const SealedCoding coding = options.sealed_coding == static_cast<int>(SealedCoding::Simulcast) ||
                                      (options.sealed_coding == 0 && simulcast_size < conditional_size)
                                  ? SealedCoding::Simulcast
                                  : SealedCoding::Conditional;
  stages.entropy_ms += ms_since(t);

  ContainerHeader header = container_header(width, height, padding, shapes, {});
  header.sealed = true;
  SealedHeader& seal = header.seal;
  seal.coding = coding;
  const bool backbone = options.public_synthesis < 0 ? model().has_backbone_synthesis()
                                                     : options.public_synthesis == static_cast<int>(PublicSynthesis::Backbone);
  if (backbone && !model().has_backbone_synthesis()) throw InputError("this model has no backbone synthesis for the public section");
  seal.public_synthesis = backbone ? PublicSynthesis::Backbone : PublicSynthesis::Protected;
  const Bytes plaintext = sealed_plaintext(key_condition(model().config, loaded_.model_id, options.key), coding, full, best);
  const Bytes content_key = prepare_seal(seal, {options.key, options.recipients});
  seal.sealed_length = static_cast<uint32_t>(plaintext.size() + 16);
  std::vector<uint8_t> prefix = sealed_container_prefix(header, public_strings.z, public_strings.y);
  const Bytes sealed = seal_section(content_key, seal, plaintext, prefix);
  CompressResult result;
  result.container = finish_sealed_container(std::move(prefix), sealed);
  return result;
}

at::Tensor Codec::decode_sealed(const ParsedContainer& parsed, const CodecOptions& options, const std::vector<float>& condition,
                                StageTimings* stages) const {
  const ContainerHeader& h = parsed.header;
  const LatentShapes shapes = shapes_of(h);
  LatentStrings public_strings;
  public_strings.z.assign(parsed.z, parsed.z + h.z_length);
  public_strings.y.assign(parsed.y, parsed.y + h.y_length);
  const UnsealKey key{options.key, options.x25519_secret};

  if (key.empty()) {
    const at::Tensor y_p = model().latent().decompress(public_strings, shapes, stages);
    // A raw condition (research, the key-search adversary) decodes the public latent with it.
    if (!condition.empty()) return model().decode(y_p, condition_tensor(condition), decoder_options(options), stages);
    if (h.seal.public_synthesis == PublicSynthesis::Backbone) {
      if (!model().has_backbone_synthesis()) throw FormatError(".psic sealed file asks for a backbone synthesis this model lacks");
      const auto t = Clock::now();
      at::Tensor x = model().backbone_synthesize(to_device(y_p, device()), decoder_options(options)).clamp_(0, 1);
      if (stages) stages->transform_ms += ms_since(t);
      return x;
    }
    return model().decode(y_p, at::Tensor(), decoder_options(options), stages);
  }
  if (!condition.empty()) throw InputError("give a key or a condition, not both");

  const Bytes content_key = open_content_key(h.seal, key);
  const Bytes plain = open_section(content_key, h.seal, parsed.sealed, parsed.sealed - parsed.associated_size, parsed.associated_size);
  const uint32_t d = get_u32(plain, 0);
  if (static_cast<int64_t>(d) != model().config.condition_dim) throw FormatError(".psic sealed condition size does not match the model");
  size_t at = 4 + 4 * static_cast<size_t>(d);
  if (at > plain.size()) throw FormatError(".psic sealed section is malformed");
  std::vector<float> full_condition(d);
  std::memcpy(full_condition.data(), plain.data() + 4, 4 * static_cast<size_t>(d));

  at::Tensor y_hat;
  if (h.seal.coding == SealedCoding::Simulcast) {
    const uint32_t z_length = get_u32(plain, at);
    at += 4;
    if (z_length > plain.size() - at) throw FormatError(".psic sealed section is malformed");
    LatentStrings full;
    full.z.assign(plain.begin() + static_cast<std::ptrdiff_t>(at), plain.begin() + static_cast<std::ptrdiff_t>(at + z_length));
    full.y.assign(plain.begin() + static_cast<std::ptrdiff_t>(at + z_length), plain.end());
    y_hat = model().latent().decompress(full, shapes, stages);
  } else {
    const HyperpriorLatentCodec& hyper = hyperprior_of(model());
    const at::Tensor y_p = model().latent().decompress(public_strings, shapes, stages);
    const auto t = Clock::now();
    const size_t channels = static_cast<size_t>(shapes.y_channels);
    if (plain.size() - at < 2 * channels) throw FormatError(".psic sealed section is malformed");
    std::vector<float> bias(channels);
    for (size_t c = 0; c < channels; ++c) bias[c] = static_cast<float>(static_cast<int8_t>(plain[at + c]));
    const std::vector<uint8_t> shifts(plain.begin() + static_cast<std::ptrdiff_t>(at + channels), plain.begin() + static_cast<std::ptrdiff_t>(at + 2 * channels));
    for (uint8_t s : shifts)
      if (s > kMaxScaleShift) throw FormatError(".psic sealed scale shift is out of range");
    const std::vector<uint8_t> residual(plain.begin() + static_cast<std::ptrdiff_t>(at + 2 * channels), plain.end());
    const at::Tensor indexes = hyper.shifted_indexes(hyper.public_scales(public_strings.z, shapes), shifts);
    const at::Tensor centred = hyper.gaussian_conditional.decompress(residual, indexes);
    y_hat = y_p + (centred + at::tensor(bias, at::kFloat).view({-1, 1, 1})).unsqueeze(0);
    if (stages) stages->entropy_ms += ms_since(t);
  }
  return model().decode(y_hat, condition_tensor(full_condition), decoder_options(options), stages);
}

}  // namespace psic
