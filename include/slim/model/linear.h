// A linear layer with interception points. Algorithms transform its input (activation
// fake-quantization, online rotation), replace its computation (a deployed quantized linear), or
// observe its input and output through hooks, so family code never changes for them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace slim::model {

class Linear;

// Identifies one registered hook (linear or attention) so that exactly it can be removed.
struct HookHandle {
  uint64_t id = 0;
  bool valid() const { return id != 0; }
  bool operator==(const HookHandle& other) const { return id == other.id; }
};
// A new process-wide unique handle.
HookHandle next_hook_handle();

// The three stages compose across hooks (and so across processors), in this order:
//   1. transform_input: every hook in registration order, each seeing the previous one's result;
//   2. replace: the first hook returning an output supplies it (else the stored computation);
//   3. observe: every hook sees the transformed input and the final output.
class LinearHook {
 public:
  virtual ~LinearHook() = default;
  virtual at::Tensor transform_input(const Linear& linear, const at::Tensor& input) {
    return input;
  }
  virtual std::optional<at::Tensor> replace(const Linear& linear, const at::Tensor& input) {
    return std::nullopt;
  }
  virtual void observe(const Linear& linear, const at::Tensor& input, const at::Tensor& output) {}
};

class Linear {
 public:
  Linear() = default;
  Linear(std::string name, at::Tensor weight, std::optional<at::Tensor> bias, std::string role = "",
         int64_t expert = -1);
  // A linear whose computation is stored elsewhere (a quantized record): no float weight.
  Linear(std::string name, int64_t out_features, int64_t in_features,
         std::shared_ptr<LinearHook> stored_computation, std::string role = "",
         int64_t expert = -1);

  // Hugging Face module name, e.g. "model.layers.3.self_attn.q_proj".
  const std::string& name() const { return name_; }
  // The family role ("attn_q", "expert_down"; slim/model/roles.h) and routed expert index (-1).
  const std::string& role() const { return role_; }
  int64_t expert() const { return expert_; }
  // Undefined when the linear runs from a stored quantized computation.
  const at::Tensor& weight() const { return weight_; }
  const std::optional<at::Tensor>& bias() const { return bias_; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool has_float_weight() const { return weight_.defined(); }

  // Weight substitution (smoothing, fake quantization). Shape must stay the same.
  void set_weight(at::Tensor weight);
  void set_bias(std::optional<at::Tensor> bias);
  // What runs when no hook replaces the computation: input @ weight^T + bias by default, or a
  // quantized linear executed as an engine would (weight sources of quantized checkpoints).
  // Not a hook: clear_hooks() keeps it.
  void set_stored_computation(std::shared_ptr<LinearHook> computation);
  bool has_stored_computation() const { return stored_ != nullptr; }
  // Frees the float weight and bias once a stored computation (which holds its own) has replaced
  // them: a quantized layer then holds its records, not a float copy as well.
  void drop_float_weight();

  HookHandle add_hook(std::shared_ptr<LinearHook> hook);
  // Removes exactly the hook `handle` names; false when it is not registered here.
  bool remove_hook(HookHandle handle);
  void clear_hooks() { hooks_.clear(); }
  size_t hook_count() const { return hooks_.size(); }

  at::Tensor forward(const at::Tensor& input) const;

 private:
  std::string name_;
  std::string role_;
  int64_t expert_ = -1;
  at::Tensor weight_;  // [out, in]
  std::optional<at::Tensor> bias_;
  int64_t out_features_ = 0;
  int64_t in_features_ = 0;
  std::shared_ptr<LinearHook> stored_;
  std::vector<std::pair<HookHandle, std::shared_ptr<LinearHook>>> hooks_;
};

}  // namespace slim::model
