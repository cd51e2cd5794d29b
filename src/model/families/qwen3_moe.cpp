// Qwen3MoeForCausalLM (Qwen3-30B-A3B, Qwen3-235B-A22B): Qwen3 attention (per-head q/k norms),
// routed experts with softmax top-k routing (normalised when norm_topk_prob), no shared expert.
// Defaults: transformers' Qwen3MoeConfig.
#include "common.h"

namespace slim::model {

// clang-format off
extern const FamilySpec kQwen3MoeFamily = {
    // name                  type         qkv    attn  mlp    qknorm window                eps   theta    maxpos window head winlayers
    {"Qwen3MoeForCausalLM", "qwen3_moe", false, true, false, true,  WindowRule::WithFlag, 1e-6, 10000.0, 32768, 4096,  0,   28,
     /*gguf*/ {"qwen3moe", false, false},
     /*moe*/ {"num_experts", "moe_intermediate_size", nullptr,
              TopKNorm::ConfigFlag, /*sparse_step_keys*/ true, 128, 8, 768, 0}},
    families::concat({families::attention_roles(true), families::qwen_moe_roles(/*shared*/ false)}),
    families::llama_like_subgraphs(/*ov_group_max=*/true)};
// clang-format on

}  // namespace slim::model
