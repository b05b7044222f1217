#include "targets/human_targets.h"

#include <algorithm>
#include <functional>

#include "errors.h"
#include "targets/tf_image.h"

namespace psic {

namespace {

// The 80 COCO classes in their contiguous order (centernet's class index).
const std::vector<std::string>& coco_labels() {
  static const std::vector<std::string> labels = {
      "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
      "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
      "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
      "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
      "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
      "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
      "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
      "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
      "hair drier", "toothbrush"};
  return labels;
}

// Human's grayscale (MATLAB rgb2gray weights), then [-1, 1]: the SSR-Net gender and emotion input.
at::Tensor gray_pm1(const at::Tensor& nhwc) {
  const at::Tensor g = nhwc.select(3, 0) * 0.2989 + nhwc.select(3, 1) * 0.5870 + nhwc.select(3, 2) * 0.1140;
  return ((g - 0.5) * 2).unsqueeze(3);
}

struct HeadSpec {
  TargetHead head;
  std::string output;  // graph node it reads
};

struct HumanSpec {
  std::string preprocessing;
  std::function<at::Tensor(const at::Tensor& nhwc01)> preprocess;
  std::vector<HeadSpec> heads;
  bool detector = false;
};

HumanSpec spec_for(const std::string& name) {
  using K = TargetHeadKind;
  if (name == "gear")
    return {"crop the face box top 0, left 0.10, bottom 0.90, right 0.90 and resize it to 198x198 "
            "(tf.image.cropAndResize, bilinear); RGB in [0, 1]",
            [](const at::Tensor& x) { return crop_and_resize(x, 0.0, 0.10, 0.90, 0.90, 198, 198); },
            {{{"race", K::Classifier, {"white", "black", "asian", "indian", "other"}}, "Identity_2"},
             {{"gender", K::Classifier, {"male", "female"}}, "Identity_1"},
             {{"age", K::Classifier, {"below 20", "21-25", "26-30", "31-40", "41-50", "51-60", "above 60"}}, "Identity"}}};
  if (name == "gender")
    return {"resize to 64x64 (tf.image.resizeBilinear); grayscale 0.2989 R + 0.5870 G + 0.1140 B of RGB in [0, 1]; "
            "then (g - 0.5) * 2",
            [](const at::Tensor& x) { return gray_pm1(resize_bilinear_legacy(x, 64, 64)); },
            {{{"gender", K::Classifier, {"female", "male"}}, "Identity"}}};
  if (name == "emotion")
    return {"resize to 64x64 (tf.image.resizeBilinear); grayscale 0.2989 R + 0.5870 G + 0.1140 B of RGB in [0, 1]; "
            "then (g - 0.5) * 2",
            [](const at::Tensor& x) { return gray_pm1(resize_bilinear_legacy(x, 64, 64)); },
            {{{"emotion", K::Classifier, {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}}, "Identity"}}};
  if (name == "age")
    return {"resize to 64x64 (tf.image.resizeBilinear); RGB in [0, 255]",
            [](const at::Tensor& x) { return resize_bilinear_legacy(x, 64, 64) * 255.0; },
            {{{"age", K::Regression, {}}, "Identity"}}};
  if (name == "mobileface")
    return {"resize to 112x112 (tf.image.resizeBilinear); RGB in [0, 1]",
            [](const at::Tensor& x) { return resize_bilinear_legacy(x, 112, 112); },
            {{{"embedding", K::Embedding, {}}, "batchnorm0/add_1"}}};
  if (name == "centernet")
    return {"resize the whole scene to 512x512 (tf.image.resizeBilinear); RGB in [0, 255]",
            [](const at::Tensor& x) { return resize_bilinear_legacy(x, 512, 512) * 255.0; },
            {{{"objects", K::Detector, coco_labels()}, "tower_0/keypoints"}},
            true};
  throw InputError("unknown human model '" + name + "'");
}

class HumanTarget final : public TargetModel {
 public:
  HumanTarget(std::string name, HumanSpec spec, const std::string& model_json)
      : name_(std::move(name)), spec_(std::move(spec)), graph_(model_json) {
    const auto& outs = graph_.output_names();
    for (const HeadSpec& h : spec_.heads) {
      if (std::find(outs.begin(), outs.end(), h.output) == outs.end())
        throw WeightsError("TF.js model '" + model_json + "' has no output '" + h.output + "' (is it the " + name_ + " model?)");
      heads_.push_back(h.head);
    }
    if (spec_.detector && std::find(outs.begin(), outs.end(), "tower_0/detections") == outs.end())
      throw WeightsError("TF.js model '" + model_json + "' has no output 'tower_0/detections'");
  }

  const std::string& name() const override { return name_; }
  const std::vector<TargetHead>& heads() const override { return heads_; }
  std::string preprocessing() const override { return spec_.preprocessing; }

  TargetOutputs forward(const at::Tensor& images) const override {
    check_target_input(images);
    const at::Tensor nhwc = images.to(at::kFloat).permute({0, 2, 3, 1});
    const at::Tensor input = spec_.preprocess(nhwc).contiguous();
    const auto outs = graph_.run(input);
    TargetOutputs result;
    for (const HeadSpec& h : spec_.heads) {
      at::Tensor t = outs.at(h.output);
      // The detector's sigmoid heatmap [B, h, w, C]: a class's score is its best peak.
      if (h.head.kind == TargetHeadKind::Detector) t = t.flatten(1, 2).amax(1);
      result.heads.push_back(t.reshape({t.size(0), -1}));
    }
    if (spec_.detector) {
      // [B, K, 6] in the 512x512 input's pixels -> normalized box corners.
      const at::Tensor d = outs.at("tower_0/detections").detach().to(at::kFloat);
      const at::Tensor scale = at::tensor({static_cast<float>(input.size(2)), static_cast<float>(input.size(1)),
                                             static_cast<float>(input.size(2)), static_cast<float>(input.size(1))});
      result.detections = at::cat({d.narrow(2, 0, 4) / scale, d.narrow(2, 4, 2)}, 2);
    }
    return result;
  }

 private:
  std::string name_;
  HumanSpec spec_;
  TfjsGraph graph_;
  std::vector<TargetHead> heads_;
};

}  // namespace

const std::vector<std::string>& human_target_names() {
  static const std::vector<std::string> names = {"gear", "age", "gender", "emotion", "mobileface", "centernet"};
  return names;
}

std::shared_ptr<TargetModel> make_human_target(const std::string& name, const std::string& model_json) {
  return std::make_shared<HumanTarget>(name, spec_for(name), model_json);
}

}  // namespace psic
