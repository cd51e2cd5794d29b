#include <ATen/ATen.h>

#include "slim/algo/processor.h"
#include "slim/core/error.h"
#include "slim/model/family.h"

namespace slim::algo {

GlobalTensors::GlobalTensors(std::function<at::Tensor(const std::string&)> read,
                             std::function<at::ScalarType(const std::string&)> stored_dtype,
                             bool tied)
    : read_(std::move(read)), stored_dtype_(std::move(stored_dtype)), tied_(tied) {}

// Where the tensor `name` is stored: a tied lm_head is the embedding until set apart.
std::string GlobalTensors::stored_name(const std::string& name) const {
  const model::GlobalTensorNames& names = model::global_tensor_names();
  SLIM_INTERNAL_ASSERT(name == names.embedding || name == names.final_norm || name == names.lm_head,
                       "not a global tensor: ", name);
  if (name == names.lm_head && tied_ && !untied_) return names.embedding;
  return name;
}

at::Tensor GlobalTensors::get(const std::string& name) const {
  const std::string stored = stored_name(name);
  if (auto it = changed_.find(stored); it != changed_.end()) return it->second.to(at::kFloat);
  return read_(stored).to(at::kFloat);
}

void GlobalTensors::set(const std::string& name, const at::Tensor& value) {
  const model::GlobalTensorNames& names = model::global_tensor_names();
  const at::Tensor current = get(name);
  SLIM_INTERNAL_ASSERT(value.sizes() == current.sizes(), "global tensor ", name, ": shape ",
                       value.sizes(), " replaces ", current.sizes());
  SLIM_CHECK(at::isfinite(value).all().item<bool>(), "global tensor ", name,
             ": the transform produced NaN or Inf");
  // The dtype it is saved in: a tied lm_head set apart keeps the embedding's.
  const at::ScalarType dtype = stored_dtype_(stored_name(name));
  if (name == names.lm_head && tied_) untied_ = true;
  changed_[name] = value.to(at::kCPU).to(dtype).contiguous();
}

}  // namespace slim::algo
