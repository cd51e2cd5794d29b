#include "slim/model/linear.h"

#include <ATen/ATen.h>

#include "slim/core/error.h"

namespace slim::model {

void Linear::set_weight(at::Tensor weight) {
  SLIM_CHECK(weight.sizes() == weight_.sizes(), name_, ": new weight shape ", weight.sizes(),
             " differs from ", weight_.sizes());
  weight_ = std::move(weight);
}

void Linear::set_bias(std::optional<at::Tensor> bias) {
  if (bias) {
    SLIM_CHECK(bias->dim() == 1 && bias->size(0) == weight_.size(0), name_, ": bias shape ",
               bias->sizes(), " does not match ", weight_.size(0), " outputs");
  }
  bias_ = std::move(bias);
}

at::Tensor Linear::forward(const at::Tensor& input) const {
  std::optional<at::Tensor> output;
  for (const auto& hook : hooks_) {
    output = hook->replace(*this, input);
    if (output) break;
  }
  if (!output) output = at::linear(input, weight_, bias_ ? *bias_ : at::Tensor());
  for (const auto& hook : hooks_)
    hook->observe(*this, input, *output);
  return *output;
}

}  // namespace slim::model
