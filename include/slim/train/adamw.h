// AdamW (Loshchilov & Hutter: Adam with decoupled weight decay) over fp32 master tensors, and the
// global-norm gradient clipping that goes with it. The moments live beside the parameters and are
// exposed so that a checkpoint can save and restore them exactly.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace slim::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
};

struct AdamWParameter {
  std::string name;
  at::Tensor value;       // fp32, requires_grad; updated in place
  bool decay = true;      // weight decay applies (matrices), or not (norm gains)
  at::Tensor exp_avg;     // first moment
  at::Tensor exp_avg_sq;  // second moment
};

class AdamW {
 public:
  AdamW(std::vector<AdamWParameter> parameters, AdamWOptions options);

  // One update with learning rate `lr` from the gradients in each value's .grad(); parameters
  // without a gradient are left alone. Increments step().
  //   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
  //   p = p (1 - lr wd) - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
  void step(double lr);
  void zero_grad();

  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  std::vector<AdamWParameter>& parameters() { return parameters_; }
  const AdamWOptions& options() const { return options_; }

 private:
  std::vector<AdamWParameter> parameters_;
  AdamWOptions options_;
  int64_t steps_ = 0;
};

// Scales every gradient so that their global L2 norm is at most `max_norm` (no change when
// max_norm <= 0); returns the norm before scaling.
double clip_grad_norm(std::vector<AdamWParameter>& parameters, double max_norm);

// Linear warmup from 0 to `peak` over `warmup` steps, then a cosine decay to `peak * min_ratio` at
// `total` steps (and that floor after). Steps count from 0; step 0 gets peak / warmup.
double warmup_cosine_lr(int64_t step, int64_t warmup, int64_t total, double peak, double min_ratio);

}  // namespace slim::train
