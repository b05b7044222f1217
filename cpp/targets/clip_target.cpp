#include "targets/clip_target.h"

#include "clip/clip_preprocess.h"
#include "errors.h"

namespace psic {

namespace {

class ClipTarget final : public TargetModel {
 public:
  ClipTarget(std::shared_ptr<const ClipModel> clip, std::string name, const at::Tensor& class_tokens,
             std::vector<std::string> class_names)
      : clip_(std::move(clip)), name_(std::move(name)) {
    heads_.push_back({"embedding", TargetHeadKind::Embedding, {}});
    if (class_tokens.defined() && class_tokens.numel() > 0) {
      if (class_tokens.dim() != 2 || class_tokens.size(0) != static_cast<int64_t>(class_names.size()))
        throw InputError("CLIP target: one prompt per class name");
      at::NoGradGuard no_grad;
      const at::Tensor t = clip_->encode_text(class_tokens);
      text_ = t / t.norm(2, -1, true);
      heads_.push_back({"zero-shot", TargetHeadKind::Classifier, std::move(class_names)});
    }
  }

  const std::string& name() const override { return name_; }
  at::Device device() const override { return clip_->device(); }
  const std::vector<TargetHead>& heads() const override { return heads_; }
  std::string preprocessing() const override {
    return "resize to " + std::to_string(clip_->dims().image_resolution) +
           "x" + std::to_string(clip_->dims().image_resolution) +
           " (bicubic interpolation, align_corners=False), then CLIP's mean/std normalization";
  }

  at::Tensor encode_texts(const at::Tensor& tokens) const override {
    if (tokens.dim() != 2 || tokens.size(1) != clip_->dims().context_length)
      throw InputError("CLIP target: tokens must be [K, " + std::to_string(clip_->dims().context_length) + "]");
    return clip_->encode_text(tokens.to(at::kLong));
  }

  TargetOutputs forward(const at::Tensor& images) const override {
    check_target_input(images);
    const at::Tensor x = clip_preprocess_tensor(images.to(clip_->device(), at::kFloat), clip_->dims().image_resolution);
    const at::Tensor f = clip_->encode_image(x);
    TargetOutputs out;
    out.heads.push_back(f);
    if (text_.defined()) out.heads.push_back(at::softmax(clip_->logits(f, text_), -1));
    return out;
  }

 private:
  std::shared_ptr<const ClipModel> clip_;
  std::string name_;
  std::vector<TargetHead> heads_;
  at::Tensor text_;  // normalized class prompt features [C, D]
};

}  // namespace

std::shared_ptr<TargetModel> make_clip_target(std::shared_ptr<const ClipModel> clip, const std::string& name,
                                              const at::Tensor& class_tokens, const std::vector<std::string>& class_names) {
  return std::make_shared<ClipTarget>(std::move(clip), name, class_tokens, class_names);
}

}  // namespace psic
