// The TensorFlow ops that the supported TF.js graph models use, on ATen, with TensorFlow's
// semantics: NHWC, 'SAME' padding (the extra pixel after), strided-slice masks, half-pixel
// resize, fused bias/activation tails.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "targets/tfjs_graph.h"

namespace psic {

// Computes a node's outputs from its inputs. Throws WeightsError for an unsupported op or attr.
std::vector<at::Tensor> run_tfjs_op(const TfjsNode& node, const std::vector<at::Tensor>& inputs);

bool tfjs_op_supported(const std::string& op);
const std::vector<std::string>& tfjs_supported_ops();

}  // namespace psic
