// The decoder architectures Slim knows, as data: one row per Hugging Face `architectures` name,
// holding what differs between them (biases, per-head norms, sliding windows, mixture of experts)
// and the defaults their Hugging Face configuration classes use for optional config.json keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slim::model {

enum class WindowRule {
  None,  // no sliding-window attention (Llama ignores a "sliding_window" key, as transformers does)
  Always,   // every layer uses "sliding_window" when set (Mistral, Mixtral)
  WithFlag  // only with "use_sliding_window": true, from layer "max_window_layers" on (Qwen2/3)
};

// How the top-k routing weights of a mixture-of-experts layer are normalised.
enum class TopKNorm {
  Always,     // divided by their sum (Mixtral)
  ConfigFlag  // divided by their sum when config.json says "norm_topk_prob": true (Qwen2/3-MoE)
};

// Mixture-of-experts keys of a family's config.json; `experts_key` == nullptr for dense families.
struct MoeTraits {
  const char* experts_key = nullptr;              // "num_experts" / "num_local_experts"
  const char* expert_intermediate_key = nullptr;  // "moe_intermediate_size" / "intermediate_size"
  const char* shared_intermediate_key = nullptr;  // "shared_expert_intermediate_size" or nullptr
  TopKNorm top_k_norm = TopKNorm::Always;
  bool sparse_step_keys = false;  // honours "decoder_sparse_step" and "mlp_only_layers"
  int64_t default_experts = 0;
  int64_t default_top_k = 0;
  int64_t default_expert_intermediate = 0;
  int64_t default_shared_intermediate = 0;
};

// How llama.cpp names the architecture (convert_hf_to_gguf.py's model classes).
struct GgufTraits {
  const char* arch = nullptr;   // general.architecture: "llama", "qwen2", "qwen3moe"; nullptr: none
  bool permute_qk = false;      // llama: undo HF's rotate_half layout of q/k rows
  bool vocab_size_key = false;  // LlamaModel writes <arch>.vocab_size and rope.dimension_count
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
  GgufTraits gguf = {};
  MoeTraits moe = {};
};

// nullptr when unknown.
const ArchitectureTraits* find_architecture(const std::string& name);
std::vector<std::string> supported_architectures();
// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages.
std::string supported_architectures_text();

}  // namespace slim::model
