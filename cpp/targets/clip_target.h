// CLIP as a TargetModel: the image tower's embedding, and — when class prompts are given — a
// zero-shot classifier: softmax over exp(logit_scale) · cos(image, text_c), as CLIP's own
// zero-shot evaluation computes it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "clip/clip_model.h"
#include "targets/target_model.h"

namespace psic {

// class_tokens: [C, context_length] token ids of one prompt per class (may be undefined: then
// the target has the embedding head only); class_names label the classifier's C classes.
std::shared_ptr<TargetModel> make_clip_target(std::shared_ptr<const ClipModel> clip, const std::string& name,
                                              const at::Tensor& class_tokens, const std::vector<std::string>& class_names);

}  // namespace psic
