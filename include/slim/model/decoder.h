// One decoder layer of a Llama-like transformer (Llama, Mistral, Qwen2, Qwen3): its weights as
// Linear modules and norm tensors, and its forward pass with interception points.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slim/io/model_config.h"
#include "slim/model/blocks.h"
#include "slim/model/linear.h"

namespace slim::model {

struct DecoderLayer {
  int64_t index = 0;
  std::string prefix;  // "model.layers.3."
  at::Tensor input_layernorm;
  at::Tensor post_attention_layernorm;
  std::optional<at::Tensor> q_norm;  // Qwen3: per-head RMSNorm weights [head_dim]
  std::optional<at::Tensor> k_norm;
  Linear q_proj, k_proj, v_proj, o_proj;
  Linear gate_proj, up_proj, down_proj;

  // Every linear of the layer, in execution order.
  std::vector<Linear*> linears();
  Linear* find_linear(const std::string& name);
};

// Sees the attention states of a layer after rotary embedding (and per-head norms), before the
// KV cache and the attention product; may modify them in place (KV-cache / FA3 quantization).
// q: [batch, heads, seq, head_dim]; k, v: [batch, kv_heads, seq, head_dim].
class AttentionHook {
 public:
  virtual ~AttentionHook() = default;
  virtual void on_states(const DecoderLayer& layer, at::Tensor& q, at::Tensor& k,
                         at::Tensor& v) = 0;
};

// Keys and values of past positions, per layer, for incremental decoding.
struct KVCache {
  std::vector<at::Tensor> keys;
  std::vector<at::Tensor> values;
  int64_t length = 0;  // positions cached (same for every layer once a step completes)
};

// What one forward call shares across layers.
struct ForwardContext {
  at::Tensor positions;  // [batch, seq] absolute positions
  at::Tensor cos, sin;   // rotary tables for `positions`
  KVCache* cache = nullptr;
  std::vector<std::shared_ptr<AttentionHook>> attention_hooks;
};

// Runs one decoder layer on hidden states [batch, seq, hidden] (in the compute dtype).
at::Tensor decoder_layer_forward(const io::ModelConfig& config, DecoderLayer& layer,
                                 const at::Tensor& hidden, ForwardContext& context);

}  // namespace slim::model
