// The UAEO attack loss's options (uaeo_loss.h), apart so that a config (trainer_config.h) names
// them without ATen.
#pragma once

namespace psic {

enum class UaeoVariant {
  Paper,  // eqs 5–9 of the paper
  Code,   // what the authors' public training code computes (it differs from the paper)
  Naive,  // the ablation: minimise the true pair's similarity
};

struct UaeoOptions {
  UaeoVariant variant = UaeoVariant::Paper;
  double s = 0.1;  // temperature s in (0, 1): of the evidence and of the softmax
  // Code only: weight the clean and noisy group losses by their normalised inverse losses, as the
  // authors' stage 2 does (instead of stage 1's fixed 10 : 1).
  bool code_stage2_weighting = false;
};

}  // namespace psic
