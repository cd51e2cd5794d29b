#include <ATen/ATen.h>

#include <algorithm>

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

at::Tensor GlobalTensors::current(const std::string& name) const {
  const std::string stored = stored_name(name);
  if (auto it = changed_.find(stored); it != changed_.end()) return it->second;
  return read_(stored);
}

at::Tensor GlobalTensors::get(const std::string& name) const {
  return current(name).to(at::kFloat);
}

// Keeps `value` (already in the stored dtype) as the tensor `name`; setting the lm_head of a tied
// model sets it apart.
void GlobalTensors::store(const std::string& name, at::Tensor value) {
  if (name == model::global_tensor_names().lm_head && tied_) untied_ = true;
  changed_[name] = std::move(value);
}

void GlobalTensors::set(const std::string& name, const at::Tensor& value) {
  const at::Tensor before = current(name);
  SLIM_INTERNAL_ASSERT(value.sizes() == before.sizes(), "global tensor ", name, ": shape ",
                       value.sizes(), " replaces ", before.sizes());
  SLIM_CHECK(at::isfinite(value).all().item<bool>(), "global tensor ", name,
             ": the transform produced NaN or Inf");
  // The dtype it is saved in: a tied lm_head set apart keeps the embedding's.
  const at::ScalarType dtype = stored_dtype_(stored_name(name));
  store(name, value.to(at::kCPU).to(dtype).contiguous());
}

void GlobalTensors::transform_rows(const std::string& name,
                                   const std::function<at::Tensor(const at::Tensor&)>& rows) {
  const at::Tensor before = current(name);
  SLIM_INTERNAL_ASSERT(before.dim() == 2, "global tensor ", name, " is not a matrix");
  const at::ScalarType dtype = stored_dtype_(stored_name(name));
  at::Tensor after = at::empty(before.sizes(), before.options().dtype(dtype).device(at::kCPU));
  // Blocks of about 16 MB of fp32.
  const int64_t block =
      std::max<int64_t>(1, (int64_t{4} << 20) / std::max<int64_t>(1, before.size(1)));
  for (int64_t start = 0; start < before.size(0); start += block) {
    const int64_t end = std::min(before.size(0), start + block);
    const at::Tensor out = rows(before.slice(0, start, end).to(at::kFloat));
    SLIM_INTERNAL_ASSERT(out.sizes() == before.slice(0, start, end).sizes(), "global tensor ", name,
                         ": a block of rows changed shape");
    SLIM_CHECK(at::isfinite(out).all().item<bool>(), "global tensor ", name, ", rows ", start, "-",
               end, ": the transform produced NaN or Inf");
    after.slice(0, start, end).copy_(out);
  }
  store(name, std::move(after));
}

}  // namespace slim::algo
