// One decoder layer of a Llama-like transformer, dense or mixture-of-experts (Llama, Mistral,
// Qwen2, Qwen3, Qwen2-MoE, Qwen3-MoE, Mixtral): its modules addressable by role and by name, its
// forward pass, and the hooks registered on it.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "slim/io/model_config.h"
#include "slim/model/blocks.h"
#include "slim/model/linear.h"

namespace slim::model {

class DecoderLayer;

// Sees the attention states of a layer after rotary embedding (and per-head norms), before the
// KV cache and the attention product; may modify them in place (KV-cache / FA3 quantization).
// q: [batch, heads, seq, head_dim]; k, v: [batch, kv_heads, seq, head_dim].
class AttentionHook {
 public:
  virtual ~AttentionHook() = default;
  virtual void on_states(const DecoderLayer& layer, at::Tensor& q, at::Tensor& k,
                         at::Tensor& v) = 0;
};

// A norm weight of a layer, and its bias where a transform added one (asymmetric smoothing
// shifts the channels of a norm's output: RMSNorm(x)·γ + β, MindIE's anti-outlier norm).
struct LayerNorm {
  std::string role;  // "attn_norm"
  std::string name;  // "model.layers.3.input_layernorm"
  at::Tensor weight;
  std::optional<at::Tensor> bias;
};

class DecoderLayer {
 public:
  int64_t index = 0;
  std::string prefix;  // "model.layers.3."

  DecoderLayer() = default;
  DecoderLayer(int64_t index, std::vector<Linear> linears, std::vector<LayerNorm> norms, bool moe);

  bool is_moe() const { return moe_; }

  // The linear of `role` (slim/model/roles.h), of routed expert `expert` for expert roles; throws
  // naming the layer and role when absent.
  Linear& linear(const std::string& role, int64_t expert = -1);
  const Linear& linear(const std::string& role, int64_t expert = -1) const;
  Linear* find_linear(const std::string& role, int64_t expert = -1);
  bool has_linear(const std::string& role, int64_t expert = -1) const;
  // By Hugging Face module name ("model.layers.3.mlp.experts.17.down_proj"); nullptr if absent.
  Linear* linear_named(const std::string& name);
  // Every linear, in execution order (routed experts expert by expert).
  std::vector<Linear*> linears();
  std::vector<const Linear*> linears() const;

  // The norm weight of `role`; throws when absent.
  const at::Tensor& norm(const std::string& role) const;
  bool has_norm(const std::string& role) const;
  // Replaces a norm weight (smoothing folds scales into it). Shape must stay the same.
  void set_norm(const std::string& role, at::Tensor weight);
  // The bias of the norm of `role` (none for a plain RMSNorm); set_norm_bias adds or replaces it.
  const std::optional<at::Tensor>& norm_bias(const std::string& role) const;
  void set_norm_bias(const std::string& role, at::Tensor bias);
  const std::vector<LayerNorm>& norms() const { return norms_; }

  // Every float tensor of the layer by checkpoint name, as it is now (after processors changed
  // weights): norm weights, float linear weights and biases. Linears running a stored quantized
  // computation contribute nothing (their record holds weight and bias).
  std::vector<std::pair<std::string, at::Tensor>> tensors() const;

  // The attention quantization a saved output declares (KV cache, FA3), run before the hooks;
  // clear_hooks keeps it.
  void set_stored_attention(std::shared_ptr<AttentionHook> hook) { stored_attention_ = hook; }
  const std::shared_ptr<AttentionHook>& stored_attention() const { return stored_attention_; }

  // Attention hooks registered on the layer; remove_hook removes a linear or an attention hook.
  HookHandle add_attention_hook(std::shared_ptr<AttentionHook> hook);
  bool remove_hook(HookHandle handle);
  // Removes every hook of the layer and of its linears (stored computations stay).
  void clear_hooks();
  const std::vector<std::pair<HookHandle, std::shared_ptr<AttentionHook>>>& attention_hooks()
      const {
    return attention_hooks_;
  }

 private:
  static std::string key(const std::string& role, int64_t expert);
  bool moe_ = false;
  std::vector<Linear> linears_;
  std::unordered_map<std::string, size_t> by_role_;
  std::vector<LayerNorm> norms_;
  std::vector<std::pair<HookHandle, std::shared_ptr<AttentionHook>>> attention_hooks_;
  std::shared_ptr<AttentionHook> stored_attention_;
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
};

// Runs one decoder layer on hidden states [batch, seq, hidden] (in the compute dtype).
at::Tensor decoder_layer_forward(const io::ModelConfig& config, DecoderLayer& layer,
                                 const at::Tensor& hidden, ForwardContext& context);

// Routing of a mixture-of-experts layer for `tokens` [tokens, hidden]: the top-k experts of each
// token and their weights (softmax in fp32, renormalised when the config says so, then cast to
// the tokens' dtype), as transformers computes them. Exposed for calibration statistics.
struct Routing {
  at::Tensor experts;  // int64 [tokens, top_k]
  at::Tensor weights;  // [tokens, top_k]
};
Routing route_tokens(const io::ModelConfig& config, DecoderLayer& layer, const at::Tensor& tokens);

}  // namespace slim::model
