// Qwen2MoeForCausalLM (Qwen1.5-MoE, Qwen2-57B-A14B): Qwen2 attention (q/k/v biases), routed
// experts with softmax top-k routing (normalised when norm_topk_prob), and a shared expert whose
// output is scaled by sigmoid(shared_expert_gate). Layers listed in mlp_only_layers, or off the
// decoder_sparse_step grid, keep a dense MLP. Defaults: transformers' Qwen2MoeConfig.
#include "common.h"

namespace slim::model {

// clang-format off
extern const FamilySpec kQwen2MoeFamily = {
    // name                  type         qkv   attn   mlp    qknorm window                eps   theta    maxpos window head winlayers
    {"Qwen2MoeForCausalLM", "qwen2_moe", true, false, false, false, WindowRule::WithFlag, 1e-6, 10000.0, 32768, 4096,  0,   28,
     /*gguf*/ {"qwen2moe", false, false},
     /*moe*/ {"num_experts", "moe_intermediate_size", "shared_expert_intermediate_size",
              TopKNorm::ConfigFlag, /*sparse_step_keys*/ true, 60, 4, 1408, 5632}},
    families::concat({families::attention_roles(false), families::qwen_moe_roles(/*shared*/ true)}),
    families::llama_like_subgraphs()};
// clang-format on

}  // namespace slim::model
