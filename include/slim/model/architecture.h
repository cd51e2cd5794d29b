// The decoder architectures Slim knows, as data: one row per Hugging Face `architectures` name,
// holding what differs between them (biases, per-head norms, sliding windows) and the defaults
// their Hugging Face configuration classes use for optional config.json keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slim::model {

enum class WindowRule {
  None,  // no sliding-window attention (Llama ignores a "sliding_window" key, as transformers does)
  Always,   // every layer uses "sliding_window" when set (Mistral)
  WithFlag  // only with "use_sliding_window": true, from layer "max_window_layers" on (Qwen2/3)
};

struct ArchitectureTraits {
  const char* name;         // config.json "architectures"[0], e.g. "LlamaForCausalLM"
  const char* model_type;   // config.json "model_type", e.g. "llama"
  bool qkv_bias_always;     // Qwen2: q/k/v projections always carry a bias
  bool attention_bias_key;  // honours config "attention_bias" (bias on q/k/v/o)
  bool mlp_bias_key;        // honours config "mlp_bias"
  bool qk_norm;             // Qwen3: per-head RMSNorm of queries and keys
  WindowRule window_rule;   // when config "sliding_window" applies
  // Defaults of the Hugging Face configuration class for keys config.json may omit.
  double default_rms_norm_eps;
  double default_rope_theta;
  int64_t default_max_position_embeddings;
  int64_t default_sliding_window;  // 0: none
  int64_t default_head_dim;        // 0: hidden_size / num_attention_heads
  int64_t default_max_window_layers;
};

// nullptr when unknown.
const ArchitectureTraits* find_architecture(const std::string& name);
std::vector<std::string> supported_architectures();
// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages.
std::string supported_architectures_text();

}  // namespace slim::model
