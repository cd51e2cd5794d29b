// Qwen3ForCausalLM: per-head q_norm / k_norm before the rotary embedding; head_dim defaults to 128.
#include "common.h"

namespace slim::model {

// clang-format off
extern const FamilySpec kQwen3Family = {
    // name               type     qkv    attn  mlp    qknorm window                eps   theta    maxpos window head winlayers
    {"Qwen3ForCausalLM", "qwen3", false, true, false, true,  WindowRule::WithFlag, 1e-6, 10000.0, 32768, 4096,  128, 28,
     /*gguf*/ {"qwen3", false, false}},
    families::concat({families::attention_roles(true), families::dense_mlp_roles()}),
    families::llama_like_subgraphs(/*ov_group_max=*/true)};
// clang-format on

}  // namespace slim::model
