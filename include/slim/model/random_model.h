// Writes small models with random weights in Hugging Face layout (config.json,
// generation_config.json, safetensors), for tests, benchmarks and the demo.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace slim::model {

struct RandomModelOptions {
  std::string architecture = "LlamaForCausalLM";
  int64_t vocab_size = 256;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 128;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  bool tie_word_embeddings = false;
  // Mixture-of-experts families (ignored by dense ones).
  int64_t num_experts = 8;
  int64_t num_experts_per_tok = 2;
  int64_t moe_intermediate_size = 32;            // Qwen-MoE experts (Mixtral: intermediate_size)
  int64_t shared_expert_intermediate_size = 48;  // Qwen2-MoE (0: none)
  bool norm_topk_prob = true;                    // Qwen-MoE
  int64_t decoder_sparse_step = 1;               // Qwen-MoE
  std::vector<int64_t> mlp_only_layers;          // Qwen-MoE: layers with a dense MLP
  c10::ScalarType dtype = c10::kBFloat16;
  uint64_t seed = 0;
  uint64_t max_shard_bytes = 0;  // 0: one model.safetensors
  // Multiplies the final norm's weight, hence the logits: large values give peaked next-token
  // distributions (conformance checks need models far from uniform).
  double logit_scale = 1.0;
};

// Writes into `save_path` atomically (refusing a non-empty directory unless `overwrite`).
void write_random_model(const RandomModelOptions& options, const std::string& save_path,
                        bool overwrite = false);

}  // namespace slim::model
