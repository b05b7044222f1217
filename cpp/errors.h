// Typed errors of the library. The Node binding maps each kind() to a JS error class
// of the same name; nothing in the library aborts the process on bad input.
#pragma once
#include <stdexcept>
#include <string>

namespace psic {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  virtual const char* kind() const noexcept { return "PsicError"; }
};

#define PSIC_DEFINE_ERROR(Name, Kind)                                          \
  class Name : public Error {                                                  \
   public:                                                                     \
    using Error::Error;                                                        \
    const char* kind() const noexcept override { return Kind; }                \
  };

// A container or weight file that is truncated, corrupted or of another format.
PSIC_DEFINE_ERROR(FormatError, "PsicFormatError")
// A container made by another model than the one decoding it.
PSIC_DEFINE_ERROR(ModelMismatchError, "PsicModelMismatchError")
// Dimensions or sizes over the configured limits.
PSIC_DEFINE_ERROR(LimitError, "PsicLimitError")
// Input that is not an image or has the wrong shape.
PSIC_DEFINE_ERROR(InputError, "PsicInputError")
// Missing or unknown weights, or wrong shapes.
PSIC_DEFINE_ERROR(WeightsError, "PsicWeightsError")
// An unreadable or unusable key.
PSIC_DEFINE_ERROR(KeyError, "PsicKeyError")
// Distributed training: a rank that cannot join the group, a peer that died or timed out, ranks
// that disagree on the config or the batch.
PSIC_DEFINE_ERROR(DistributedError, "PsicDistributedError")
// A device this build or machine does not have (device 'cuda' without a CUDA LibTorch or GPU).
PSIC_DEFINE_ERROR(DeviceError, "PsicDeviceError")
// A training or tool config with an unknown field, a wrong type or an out-of-range value; the
// message names the field.
PSIC_DEFINE_ERROR(ConfigError, "PsicConfigError")
// A file that cannot be read or written: not a regular file, missing, no permission, disk full.
PSIC_DEFINE_ERROR(IoError, "PsicIoError")
// Authenticated data that fails its check: a tampered or truncated sealed container.
PSIC_DEFINE_ERROR(IntegrityError, "PsicIntegrityError")

#undef PSIC_DEFINE_ERROR

}  // namespace psic
