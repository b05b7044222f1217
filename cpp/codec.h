// The image-level codec: RGB pixels <-> .psic container, for one loaded model. This is what
// the Node binding and the C++ tools call. Thread-safe: a loaded model is read-only.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/primitives.h"
#include "formats/container.h"
#include "models/model_loader.h"

namespace psic {

// Peak memory per image pixel of a decode (the costlier of the two: encode ≈ 400), measured on
// the N=128/M=192 models at 9.4 MP: 540 bytes (`node --import tsx benchmarks/peak-memory.ts`,
// docs/benchmarks.md "Memory"), plus a margin. The default pixel limit follows from it.
constexpr uint64_t kPeakBytesPerPixel = 560;
// The default pixel limit: as many pixels as half of this machine's RAM decodes, at most
// sharp's default (0x3FFF²). Options and the CLI's --pixel-limit raise or lower it.
uint64_t default_pixel_limit();

struct CodecOptions {
  // compat: CompressAI's op sequence (bit-exact with it at one thread).
  // fast: channels-last convolutions and the sub-pixel decoder.
  bool fast = true;
  // Decoder synthesis override for benchmarks: -1 = per path, 0 = ConvTranspose2d, 1 = sub-pixel.
  int subpixel = -1;
  uint64_t pixel_limit = default_pixel_limit();
  bool estimate_bits = false;
  // Intra-op threads for this call; 0 = the process-wide count. Batches run several calls at
  // once, each with its share of the cores (with OpenMP the count is per calling thread).
  int threads = 0;
  // The owner's key (PSIC models). compress: writes a key check into the container, so that a
  // wrong key is detected at decode. decompress: the full decode, after the container's key
  // check (when it has one) accepts the key: otherwise KeyError.
  Bytes key;
  // compress: a sealed file (version 3): the protected image is public, the full image only
  // opens with options.key or a recipient's X25519 secret key (docs/container.md).
  bool seal = false;
  std::vector<std::array<uint8_t, 32>> recipients;  // X25519 public keys
  // decompress: a recipient's X25519 secret key, for sealed files.
  std::optional<std::array<uint8_t, 32>> x25519_secret;
  // Sealing, for measurements: the sealed section's coding (0: the smaller of the two, else a
  // SealedCoding) and the public synthesis (-1: the model's backbone synthesis where it has one).
  int sealed_coding = 0;
  int public_synthesis = -1;
};

struct Timings {
  double transform_ms = 0, entropy_ms = 0, total_ms = 0;
};

struct CompressResult {
  std::vector<uint8_t> container;
  Timings timings;
  double estimated_bits = 0;  // when requested
};

struct DecompressResult {
  // HWC RGB, either uint8 (round(x * 255)) or float32 in [0, 1].
  std::vector<uint8_t> rgb8;
  std::vector<float> rgb32;
  int64_t width = 0, height = 0;
  Timings timings;
};

// One image of a batch: HWC RGB uint8, borrowed.
struct ImageView {
  const uint8_t* rgb;
  int64_t width, height;
};

// One container of a batch, borrowed, with its decode's condition or key (both empty =
// protected; a key as CodecOptions::key).
struct ContainerView {
  const uint8_t* data;
  size_t size;
  std::vector<float> condition;
  Bytes key;
};

// A container's entropy-decoded latents: what every decode of it synthesizes from.
struct DecodedLatents {
  at::Tensor y_hat;  // [1, M, h, w]
  ContainerHeader header;
};

class Codec {
 public:
  // device: where the transforms run ("cpu", "cuda", "cuda:N"); entropy coding stays on the CPU.
  static std::shared_ptr<Codec> load(const std::string& path, const std::string& device = "cpu");
  // Takes the model over: on a GPU device its transforms move there.
  explicit Codec(LoadedModel loaded, at::Device device = at::Device(at::kCPU));

  // rgb: HWC, 3 channels, uint8.
  CompressResult compress(const uint8_t* rgb, int64_t width, int64_t height, const CodecOptions& options) const;
  // condition: the d values of a PSIC model's condition (research, the key search); empty = the
  // protected decode unless options.key is set (and ignored by unconditional models).
  DecompressResult decompress(const uint8_t* data, size_t size, const CodecOptions& options, bool float_output,
                              const std::vector<float>& condition = {}) const;

  // Several images or containers with one transform forward per group of images of the same
  // padded size (at most max_batch each): what keeps a GPU busy. Results are in input order and
  // decode like those of compress/decompress one at a time. Any invalid input fails the whole
  // call with its typed error (callers then retry one by one to report each failure).
  std::vector<CompressResult> compress_batch(const std::vector<ImageView>& images, const CodecOptions& options,
                                             int64_t max_batch) const;
  std::vector<DecompressResult> decompress_batch(const std::vector<ContainerView>& containers,
                                                 const CodecOptions& options, bool float_output,
                                                 int64_t max_batch) const;

  // Parses and entropy-decodes a container of this model (checks the model id and shapes).
  DecodedLatents decode_latents(const uint8_t* data, size_t size, const CodecOptions& options,
                                StageTimings* timings = nullptr) const;

  const LoadedModel& loaded() const { return loaded_; }
  CompressionModel& model() const { return *loaded_.model; }
  const std::array<uint8_t, 16>& container_model_id() const { return container_id_; }
  at::Device device() const { return model().transform_device(); }

 private:
  void check_image(int64_t width, int64_t height, const CodecOptions& options) const;
  at::Tensor condition_tensor(const std::vector<float>& condition) const;
  // The decode's condition: a raw one, or the key's after the container's key check.
  at::Tensor decode_condition(const ContainerHeader& header, const std::vector<float>& condition, const Bytes& key) const;
  ParsedContainer parse(const uint8_t* data, size_t size, const CodecOptions& options) const;
  DecodedLatents decode_parsed(const ParsedContainer& parsed, StageTimings* timings) const;
  ContainerHeader container_header(int64_t width, int64_t height, const Padding& padding,
                                   const LatentShapes& shapes, const Bytes& key) const;
  void check_compress_key(const Bytes& key) const;
  DecompressResult crop_output(const at::Tensor& x_hat, const ContainerHeader& h, bool float_output) const;
  // Sealed files (codec_sealed.cpp): compress from the padded input, and the decode (x_hat,
  // padded) of a parsed one: the public section without a key, the full image with one.
  CompressResult compress_sealed(const at::Tensor& x, int64_t width, int64_t height, const Padding& padding,
                                 const CodecOptions& options, StageTimings& stages) const;
  at::Tensor decode_sealed(const ParsedContainer& parsed, const CodecOptions& options, const std::vector<float>& condition,
                           StageTimings* stages) const;

  LoadedModel loaded_;
  std::array<uint8_t, 16> container_id_{};
};

// uint8 HWC RGB -> float [1, 3, H, W] in [0, 1] (torchvision's ToTensor), zero-padded (centered)
// to a multiple of 64.
at::Tensor image_to_padded_tensor(const uint8_t* rgb, int64_t width, int64_t height, const Padding& padding);

}  // namespace psic
