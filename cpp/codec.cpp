#include "codec.h"
#include "codec_internal.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <map>

#include <unistd.h>

#include "errors.h"
#include "models/keys.h"
#include "util/device.h"
#include "util/threads.h"

namespace psic {

namespace {

// Batches: the indexes of items with equal keys (a padded size, a latent shape), in input order
// within each group, cut into runs of at most max_batch: one transform forward each.
template <typename Key>
std::vector<std::vector<size_t>> equal_key_runs(const std::vector<Key>& keys, int64_t max_batch) {
  std::map<Key, std::vector<size_t>> groups;
  for (size_t i = 0; i < keys.size(); ++i) groups[keys[i]].push_back(i);
  const size_t step = static_cast<size_t>(std::max<int64_t>(1, max_batch));
  std::vector<std::vector<size_t>> runs;
  for (const auto& [key, members] : groups)
    for (size_t begin = 0; begin < members.size(); begin += step)
      runs.emplace_back(members.begin() + begin, members.begin() + std::min(members.size(), begin + step));
  return runs;
}

int call_threads(const CodecOptions& o) { return o.threads > 0 ? o.threads : intra_op_threads(); }

std::array<uint8_t, 16> id_prefix(const std::string& hex) {
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < 16; ++i) out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}
}  // namespace

std::shared_ptr<Codec> Codec::load(const std::string& path, const std::string& device) {
  const at::Device target = parse_device(device);  // before the (slow) load: a bad device fails at once
  ScopedIntraOpThreads threads(intra_op_threads());
  return std::make_shared<Codec>(load_model(path), target);
}

Codec::Codec(LoadedModel loaded, at::Device device) : loaded_(std::move(loaded)), container_id_(id_prefix(loaded_.model_id)) {
  if (!device.is_cpu()) loaded_.model->place_transforms(device);
}

at::Tensor image_to_padded_tensor(const uint8_t* rgb, int64_t width, int64_t height, const Padding& p) {
  at::Tensor hwc = at::from_blob(const_cast<uint8_t*>(rgb), {height, width, 3}, at::kByte);
  at::Tensor x = hwc.permute({2, 0, 1}).contiguous().to(at::kFloat).div(255).unsqueeze(0);
  return at::constant_pad_nd(x, {p.left, p.right, p.top, p.bottom}, 0);
}

void Codec::check_image(int64_t width, int64_t height, const CodecOptions& options) const {
  if (width <= 0 || height <= 0) throw InputError("image dimensions must be positive");
  if (static_cast<uint64_t>(width) * static_cast<uint64_t>(height) > options.pixel_limit)
    throw LimitError("image is " + std::to_string(width) + "x" + std::to_string(height) + ", over the pixel limit of " +
                     std::to_string(options.pixel_limit) + " (raise it with the pixelLimit option or --pixel-limit)");
  if (width > 0xFFFFFF || height > 0xFFFFFF) throw LimitError("image dimensions are too large");
}

uint64_t default_pixel_limit() {
  static const uint64_t limit = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) return kDefaultPixelLimit;
    const uint64_t ram = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
    return std::min<uint64_t>(kDefaultPixelLimit, ram / 2 / kPeakBytesPerPixel);
  }();
  return limit;
}

ContainerHeader Codec::container_header(int64_t width, int64_t height, const Padding& padding,
                                        const LatentShapes& shapes, const Bytes& key) const {
  ContainerHeader h;
  if (!key.empty()) {
    const KeyCheck check = make_key_check(key, condition_salt(model().config, loaded_.model_id));
    h.has_key_check = true;
    h.key_check_salt = check.file_salt;
    h.key_check_tag = check.tag;
  }
  h.model_id = container_id_;
  h.height = static_cast<uint32_t>(height);
  h.width = static_cast<uint32_t>(width);
  h.padding = padding;
  h.y_shape = {static_cast<uint32_t>(shapes.y_channels), static_cast<uint32_t>(shapes.y_height),
               static_cast<uint32_t>(shapes.y_width)};
  h.z_shape = {static_cast<uint32_t>(shapes.z_channels), static_cast<uint32_t>(shapes.z_height),
               static_cast<uint32_t>(shapes.z_width)};
  return h;
}

CompressResult Codec::compress(const uint8_t* rgb, int64_t width, int64_t height, const CodecOptions& options) const {
  check_image(width, height, options);
  check_compress_key(options.key);
  at::NoGradGuard no_grad;
  ScopedIntraOpThreads threads(call_threads(options));
  const auto t0 = Clock::now();
  CompressResult result;
  StageTimings stages;

  auto tp = Clock::now();
  const Padding padding = compute_padding(height, width);
  const at::Tensor x = to_device(image_to_padded_tensor(rgb, width, height, padding), device());
  stages.transform_ms += ms_since(tp);

  if (options.seal) {
    result = compress_sealed(x, width, height, padding, options, stages);
  } else {
    LatentShapes shapes{};
    const LatentStrings strings = model().compress(x, encoder_options(options), &stages, &shapes);
    if (strings.y.size() > UINT32_MAX || strings.z.size() > UINT32_MAX) throw LimitError("bitstream too large");
    result.container = write_container(container_header(width, height, padding, shapes, options.key), strings.z, strings.y);
  }
  result.timings = {stages.transform_ms, stages.entropy_ms, ms_since(t0)};
  if (options.estimate_bits) result.estimated_bits = model().estimate_bits(x);
  return result;
}

std::vector<CompressResult> Codec::compress_batch(const std::vector<ImageView>& images, const CodecOptions& options,
                                                  int64_t max_batch) const {
  for (const ImageView& im : images) check_image(im.width, im.height, options);
  check_compress_key(options.key);
  if (options.seal) {  // each sealed file decodes and re-encodes its own protected image
    std::vector<CompressResult> results;
    for (const ImageView& im : images) results.push_back(compress(im.rgb, im.width, im.height, options));
    return results;
  }
  at::NoGradGuard no_grad;
  ScopedIntraOpThreads threads(call_threads(options));
  std::vector<CompressResult> results(images.size());
  std::vector<Padding> paddings;
  std::vector<std::pair<int64_t, int64_t>> padded_sizes;
  for (const ImageView& im : images) {
    const Padding& p = paddings.emplace_back(compute_padding(im.height, im.width));
    padded_sizes.emplace_back(im.height + p.top + p.bottom, im.width + p.left + p.right);
  }
  const ForwardOptions forward = encoder_options(options);
  for (const std::vector<size_t>& run : equal_key_runs(padded_sizes, max_batch)) {
    const auto t0 = Clock::now();
    std::vector<at::Tensor> inputs;
    for (const size_t i : run) inputs.push_back(image_to_padded_tensor(images[i].rgb, images[i].width, images[i].height, paddings[i]));
    const at::Tensor y = model().g_a.forward(to_device(at::cat(inputs, 0), device()), forward);
    const double share_ms = ms_since(t0) / static_cast<double>(run.size());
    for (size_t row = 0; row < run.size(); ++row) {
      const size_t i = run[row];
      const auto ti = Clock::now();
      StageTimings stages;
      stages.transform_ms = share_ms;
      LatentShapes shapes{};
      const int64_t r = static_cast<int64_t>(row);
      const LatentStrings strings = model().latent().compress(y.slice(0, r, r + 1).contiguous(), forward, &stages, &shapes);
      if (strings.y.size() > UINT32_MAX || strings.z.size() > UINT32_MAX) throw LimitError("bitstream too large");
      results[i].container = write_container(container_header(images[i].width, images[i].height, paddings[i], shapes, options.key), strings.z, strings.y);
      results[i].timings = {stages.transform_ms, stages.entropy_ms, share_ms + ms_since(ti)};
    }
  }
  return results;
}

ParsedContainer Codec::parse(const uint8_t* data, size_t size, const CodecOptions& options) const {
  const ParsedContainer parsed = parse_container(data, size, options.pixel_limit);
  const ContainerHeader& h = parsed.header;
  if (h.model_id != container_id_)
    throw ModelMismatchError("this .psic file was made by model " + model_id_hex(h.model_id) +
                             ", not by the loaded model " + model_id_hex(container_id_));
  const auto& cfg = model().config;
  if (h.y_shape[0] != cfg.M || h.z_shape[0] != (cfg.has_hyperprior() ? cfg.N : 0))
    throw FormatError(".psic latent channels do not match the model");
  return parsed;
}

DecodedLatents Codec::decode_latents(const uint8_t* data, size_t size, const CodecOptions& options,
                                     StageTimings* timings) const {
  return decode_parsed(parse(data, size, options), timings);
}

DecodedLatents Codec::decode_parsed(const ParsedContainer& parsed, StageTimings* timings) const {
  const ContainerHeader& h = parsed.header;
  at::NoGradGuard no_grad;
  LatentStrings strings;
  strings.z.assign(parsed.z, parsed.z + h.z_length);
  strings.y.assign(parsed.y, parsed.y + h.y_length);
  const LatentShapes shapes{h.y_shape[0], h.y_shape[1], h.y_shape[2], h.z_shape[0], h.z_shape[1], h.z_shape[2]};
  return {model().latent().decompress(strings, shapes, timings), h};
}

at::Tensor Codec::condition_tensor(const std::vector<float>& condition) const {
  const auto& cfg = model().config;
  if (condition.empty()) return at::Tensor();
  if (cfg.condition_dim == 0) throw KeyError("this model takes no key: it has a single decode");
  if (static_cast<int64_t>(condition.size()) != cfg.condition_dim)
    throw KeyError("condition has " + std::to_string(condition.size()) + " values, the model expects " +
                   std::to_string(cfg.condition_dim));
  return at::tensor(condition, at::kFloat).view({1, cfg.condition_dim});
}

void Codec::check_compress_key(const Bytes& key) const {
  if (key.empty()) return;
  check_key(key);
  if (model().config.condition_dim == 0)
    throw KeyError("this model (" + model().config.architecture + ") has a single decode and takes no key");
}

at::Tensor Codec::decode_condition(const ContainerHeader& header, const std::vector<float>& condition, const Bytes& key) const {
  if (key.empty()) return condition_tensor(condition);
  if (!condition.empty()) throw InputError("give a key or a condition, not both");
  if (header.has_key_check) {
    const KeyCheck check{header.key_check_salt, header.key_check_tag};
    if (!key_check_matches(key, condition_salt(model().config, loaded_.model_id), check))
      throw KeyError("wrong key: this file was compressed for another key (without a key, it decodes to the protected image)");
  }
  return condition_tensor(key_condition(model().config, loaded_.model_id, key));
}

DecompressResult Codec::crop_output(const at::Tensor& x_hat, const ContainerHeader& h, bool float_output) const {
  // Crop the padding, then HWC, on the CPU.
  const at::Tensor x = x_hat.slice(1, h.padding.top, h.padding.top + h.height)
                           .slice(2, h.padding.left, h.padding.left + h.width)
                           .permute({1, 2, 0})
                           .to(at::kCPU)
                           .contiguous();
  DecompressResult out;
  out.width = h.width;
  out.height = h.height;
  if (float_output) {
    out.rgb32.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  } else {
    at::Tensor u8 = at::round(x * 255).clamp_(0, 255).to(at::kByte);
    out.rgb8.assign(u8.data_ptr<uint8_t>(), u8.data_ptr<uint8_t>() + u8.numel());
  }
  return out;
}

DecompressResult Codec::decompress(const uint8_t* data, size_t size, const CodecOptions& options,
                                   bool float_output, const std::vector<float>& condition) const {
  const auto t0 = Clock::now();
  const ParsedContainer parsed = parse(data, size, options);
  at::NoGradGuard no_grad;
  ScopedIntraOpThreads threads(call_threads(options));
  StageTimings stages;
  at::Tensor x_hat;
  if (parsed.header.sealed) {
    x_hat = decode_sealed(parsed, options, condition, &stages);
  } else {
    if (options.x25519_secret) throw KeyError("an X25519 key opens sealed files only; this file is not sealed");
    const at::Tensor c = decode_condition(parsed.header, condition, options.key);
    x_hat = model().decode(decode_parsed(parsed, &stages).y_hat, c, decoder_options(options), &stages);
  }

  auto tp = Clock::now();
  DecompressResult out = crop_output(x_hat[0], parsed.header, float_output);
  stages.transform_ms += ms_since(tp);
  out.timings = {stages.transform_ms, stages.entropy_ms, ms_since(t0)};
  return out;
}

std::vector<DecompressResult> Codec::decompress_batch(const std::vector<ContainerView>& containers,
                                                      const CodecOptions& options, bool float_output,
                                                      int64_t max_batch) const {
  // Every container parsed and every key checked before any decoding.
  std::vector<ParsedContainer> parsed;
  for (size_t i = 0; i < containers.size(); ++i) parsed.push_back(parse(containers[i].data, containers[i].size, options));
  const bool any_sealed = std::any_of(parsed.begin(), parsed.end(), [](const ParsedContainer& p) { return p.header.sealed; });
  if (any_sealed || options.x25519_secret) {  // sealed files open and decode one by one
    std::vector<DecompressResult> results;
    for (const ContainerView& c : containers) {
      CodecOptions item = options;
      if (!c.key.empty()) item.key = c.key;
      results.push_back(decompress(c.data, c.size, item, float_output, c.condition));
    }
    return results;
  }
  std::vector<at::Tensor> conditions(containers.size());
  for (size_t i = 0; i < containers.size(); ++i) {
    const Bytes& key = containers[i].key.empty() ? options.key : containers[i].key;
    conditions[i] = decode_condition(parsed[i].header, containers[i].condition, key);
  }
  at::NoGradGuard no_grad;
  ScopedIntraOpThreads threads(call_threads(options));
  std::vector<DecodedLatents> latents;
  std::vector<StageTimings> stages(containers.size());
  std::vector<double> entropy_ms(containers.size());
  for (size_t i = 0; i < containers.size(); ++i) {
    const auto t0 = Clock::now();
    latents.push_back(decode_parsed(parsed[i], &stages[i]));
    entropy_ms[i] = ms_since(t0);
  }
  // One synthesis per run of equal latent shape; each row keeps its own condition.
  std::vector<std::vector<int64_t>> shapes;
  for (const DecodedLatents& l : latents) shapes.push_back(l.y_hat.sizes().vec());
  std::vector<DecompressResult> results(containers.size());
  const bool conditional = model().config.condition_dim > 0;
  for (const std::vector<size_t>& run : equal_key_runs(shapes, max_batch)) {
    const auto t0 = Clock::now();
    std::vector<at::Tensor> ys, cs;
    for (const size_t i : run) {
      ys.push_back(latents[i].y_hat);
      if (conditional) cs.push_back(conditions[i].defined() ? conditions[i] : model().protected_condition());
    }
    const at::Tensor x_hat = model().decode(at::cat(ys, 0), conditional ? at::cat(cs, 0) : at::Tensor(), decoder_options(options), nullptr);
    for (size_t row = 0; row < run.size(); ++row) results[run[row]] = crop_output(x_hat[static_cast<int64_t>(row)], latents[run[row]].header, float_output);
    const double share_ms = ms_since(t0) / static_cast<double>(run.size());
    for (const size_t i : run) results[i].timings = {stages[i].transform_ms + share_ms, stages[i].entropy_ms, entropy_ms[i] + share_ms};
  }
  return results;
}

}  // namespace psic
