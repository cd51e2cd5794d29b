// A linear layer with one interception point. Algorithms observe its inputs/outputs, substitute
// its weight (fake quantization), or replace its computation (a deployed quantized linear) through
// hooks, so family code never changes for them.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace slim::model {

class Linear;

class LinearHook {
 public:
  virtual ~LinearHook() = default;
  // Returns the output to use instead of input @ weight^T + bias, or nullopt to keep it.
  virtual std::optional<at::Tensor> replace(const Linear& linear, const at::Tensor& input) {
    return std::nullopt;
  }
  // Sees every call's input and output (after any replacement).
  virtual void observe(const Linear& linear, const at::Tensor& input, const at::Tensor& output) {}
};

class Linear {
 public:
  Linear() = default;
  Linear(std::string name, at::Tensor weight, std::optional<at::Tensor> bias)
      : name_(std::move(name)), weight_(std::move(weight)), bias_(std::move(bias)) {}

  // Hugging Face module name, e.g. "model.layers.3.self_attn.q_proj".
  const std::string& name() const { return name_; }
  const at::Tensor& weight() const { return weight_; }
  const std::optional<at::Tensor>& bias() const { return bias_; }
  int64_t in_features() const { return weight_.size(1); }
  int64_t out_features() const { return weight_.size(0); }

  // Weight substitution (smoothing, fake quantization). Shape must stay the same.
  void set_weight(at::Tensor weight);
  void set_bias(std::optional<at::Tensor> bias);

  void add_hook(std::shared_ptr<LinearHook> hook) { hooks_.push_back(std::move(hook)); }
  void clear_hooks() { hooks_.clear(); }

  at::Tensor forward(const at::Tensor& input) const;

 private:
  std::string name_;
  at::Tensor weight_;  // [out, in]
  std::optional<at::Tensor> bias_;
  std::vector<std::shared_ptr<LinearHook>> hooks_;
};

}  // namespace slim::model
