#include "slim/model/linear.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>

#include "slim/core/error.h"

namespace slim::model {

HookHandle next_hook_handle() {
  static std::atomic<uint64_t> next{1};
  return HookHandle{next.fetch_add(1)};
}

Linear::Linear(std::string name, at::Tensor weight, std::optional<at::Tensor> bias,
               std::string role, int64_t expert)
    : name_(std::move(name)),
      role_(std::move(role)),
      expert_(expert),
      weight_(std::move(weight)),
      bias_(std::move(bias)) {
  SLIM_CHECK(weight_.dim() == 2, name_, ": a linear weight needs 2 dimensions, found ",
             weight_.dim());
  out_features_ = weight_.size(0);
  in_features_ = weight_.size(1);
}

Linear::Linear(std::string name, int64_t out_features, int64_t in_features,
               std::shared_ptr<LinearHook> stored_computation, std::string role, int64_t expert)
    : name_(std::move(name)),
      role_(std::move(role)),
      expert_(expert),
      out_features_(out_features),
      in_features_(in_features),
      stored_(std::move(stored_computation)) {
  SLIM_INTERNAL_ASSERT(stored_ != nullptr, name_, ": no stored computation");
}

void Linear::set_weight(at::Tensor weight) {
  SLIM_CHECK(weight.dim() == 2 && weight.size(0) == out_features_ && weight.size(1) == in_features_,
             name_, ": new weight shape ", weight.sizes(), " differs from [", out_features_, ", ",
             in_features_, "]");
  weight_ = std::move(weight);
  // A float weight set explicitly is what runs from now on.
  stored_ = nullptr;
}

void Linear::set_bias(std::optional<at::Tensor> bias) {
  if (bias) {
    SLIM_CHECK(bias->dim() == 1 && bias->size(0) == out_features_, name_, ": bias shape ",
               bias->sizes(), " does not match ", out_features_, " outputs");
  }
  bias_ = std::move(bias);
}

void Linear::set_stored_computation(std::shared_ptr<LinearHook> computation) {
  stored_ = std::move(computation);
}

void Linear::drop_float_weight() {
  SLIM_INTERNAL_ASSERT(stored_ != nullptr, name_, ": the float weight is its only computation");
  weight_ = at::Tensor();
  bias_.reset();
}

HookHandle Linear::add_hook(std::shared_ptr<LinearHook> hook) {
  SLIM_INTERNAL_ASSERT(hook != nullptr, name_, ": null hook");
  const HookHandle handle = next_hook_handle();
  hooks_.emplace_back(handle, std::move(hook));
  return handle;
}

bool Linear::remove_hook(HookHandle handle) {
  const auto found = std::find_if(hooks_.begin(), hooks_.end(),
                                  [&](const auto& entry) { return entry.first == handle; });
  if (found == hooks_.end()) return false;
  hooks_.erase(found);
  return true;
}

at::Tensor Linear::forward(const at::Tensor& input) const {
  at::Tensor x = input;
  for (const auto& [handle, hook] : hooks_)
    x = hook->transform_input(*this, x);
  std::optional<at::Tensor> output;
  for (const auto& [handle, hook] : hooks_) {
    output = hook->replace(*this, x);
    if (output) break;
  }
  if (!output && stored_) output = stored_->replace(*this, x);
  if (!output) {
    SLIM_CHECK(weight_.defined(), name_, ": has neither a float weight nor a stored computation");
    output = at::linear(x, weight_, bias_ ? *bias_ : at::Tensor());
  }
  for (const auto& [handle, hook] : hooks_)
    hook->observe(*this, x, *output);
  return *output;
}

}  // namespace slim::model
