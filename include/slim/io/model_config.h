// config.json of a Hugging Face decoder checkpoint, parsed into a typed, validated structure.
#pragma once

#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace slim::model {
struct ArchitectureTraits;  // slim/model/architecture.h (io/ does not include model/)
}

namespace slim::io {

// rope_scaling (or transformers 5's rope_parameters). Fields a type does not use keep defaults.
struct RopeScaling {
  std::string type = "default";  // default | linear | dynamic | yarn | llama3
  double factor = 1.0;
  std::optional<int64_t> original_max_position_embeddings;
  double low_freq_factor = 1.0;            // llama3
  double high_freq_factor = 4.0;           // llama3
  std::optional<double> attention_factor;  // yarn
  double beta_fast = 32.0;                 // yarn
  double beta_slow = 1.0;                  // yarn
  std::optional<double> mscale;            // yarn
  std::optional<double> mscale_all_dim;    // yarn
};

// Mixture-of-experts keys (Qwen2-MoE, Qwen3-MoE, Mixtral), with the family's defaults applied.
struct MoeConfig {
  int64_t num_experts = 0;                      // routed experts per MoE layer
  int64_t top_k = 0;                            // num_experts_per_tok
  int64_t expert_intermediate_size = 0;         // one routed expert's SwiGLU width
  int64_t shared_expert_intermediate_size = 0;  // 0: no shared expert
  bool norm_top_k = true;                       // renormalise the top-k routing weights
  int64_t decoder_sparse_step = 1;              // MoE on layers with (k + 1) % step == 0
  std::vector<int64_t> mlp_only_layers;         // layers that keep a dense MLP
};

struct ModelConfig {
  std::string source;        // file the configuration came from, for messages
  std::string architecture;  // e.g. "LlamaForCausalLM"
  const model::ArchitectureTraits* traits = nullptr;
  std::string model_type;

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 0;
  double rope_theta = 0;
  RopeScaling rope_scaling;  // type "default" when config.json has none
  std::string hidden_act = "silu";
  bool tie_word_embeddings = false;
  bool attention_bias = false;            // bias on q/k/v/o (Llama, Qwen3)
  bool qkv_bias = true;                   // Qwen2-MoE's switch for its q/k/v biases
  bool mlp_bias = false;                  // bias on gate/up/down (Llama)
  std::optional<int64_t> sliding_window;  // attention window of the layers that use one
  bool use_sliding_window = false;        // Qwen2/Qwen3 switch
  int64_t max_window_layers = 0;          // Qwen2/Qwen3: layers below this use full attention
  std::vector<std::string> layer_types;   // "full_attention" / "sliding_attention" when given
  std::optional<MoeConfig> moe;           // mixture-of-experts families only

  std::string dtype;  // "bfloat16", "float16", "float32"; "" when config.json has none
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;

  nlohmann::json raw;  // the whole file, for tools that copy or edit it

  bool has_qkv_bias() const;
  bool has_o_bias() const;
  bool has_mlp_bias() const;
  bool has_qk_norm() const;
  // Whether decoder layer k's feed-forward is a mixture of experts.
  bool is_moe_layer(int64_t layer) const;
  // Window size of layer k, or nullopt for full attention.
  std::optional<int64_t> window_of_layer(int64_t layer) const;
};

// config.json's weight dtype names: "bfloat16", "float16", "float32" (also "half", "float" and a
// "torch." prefix when reading, as transformers accepts). The writer throws for other types.
const char* torch_dtype_name(c10::ScalarType type);
std::optional<c10::ScalarType> parse_torch_dtype_name(const std::string& name);

// `json` is config.json's content; `source` names it in error messages.
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source);
// `path` is config.json itself or the model directory holding it.
ModelConfig load_model_config(const std::string& path);

}  // namespace slim::io
