// Building blocks of decoder-only transformers, written as Hugging Face's modelling code computes
// them (same operation order and intermediate dtypes), device-agnostic.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "slim/io/model_config.h"

namespace slim::model {

// RMSNorm: normalise in fp32, cast back to the input dtype, then scale by the weight.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Rotary position embedding for one head dimension, with the scaling types of config.json
// (default, linear, dynamic NTK, YaRN, Llama-3).
class RotaryEmbedding {
 public:
  RotaryEmbedding(const io::ModelConfig& config, c10::Device device);
  // cos and sin, [batch, seq, head_dim] in `dtype`, for integer positions [batch, seq].
  std::pair<at::Tensor, at::Tensor> cos_sin(const at::Tensor& positions,
                                            at::ScalarType dtype) const;
  const at::Tensor& inv_freq() const { return inv_freq_; }
  double attention_scaling() const { return attention_scaling_; }

 private:
  at::Tensor dynamic_inv_freq(int64_t seq_len) const;

  io::RopeScaling scaling_;
  int64_t head_dim_;
  double base_;
  int64_t max_positions_;
  at::Tensor inv_freq_;  // fp32 [head_dim / 2]
  double attention_scaling_ = 1.0;
};

// q * cos + rotate_half(q) * sin, with x [batch, heads, seq, head_dim], cos/sin [batch, seq, dim].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// Additive attention mask [1, 1, q_len, k_len] (0 or the dtype's lowest value): query at position
// `first_query_position + i` sees keys j <= its position, and within `window` of it when given.
at::Tensor causal_mask(int64_t q_len, int64_t k_len, int64_t first_query_position,
                       std::optional<int64_t> window, at::ScalarType dtype, c10::Device device);

}  // namespace slim::model
