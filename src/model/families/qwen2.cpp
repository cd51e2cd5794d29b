// Qwen2ForCausalLM (Qwen2, Qwen2.5): q/k/v biases; sliding window only with use_sliding_window.
#include "common.h"

namespace slim::model {

// clang-format off
extern const FamilySpec kQwen2Family = {
    // name               type     qkv   attn   mlp    qknorm window                eps   theta    maxpos window head winlayers
    {"Qwen2ForCausalLM", "qwen2", true, false, false, false, WindowRule::WithFlag, 1e-6, 10000.0, 32768, 4096,  0,   28,
     /*gguf*/ {"qwen2", false, false}},
    families::concat({families::attention_roles(false), families::dense_mlp_roles()}),
    families::llama_like_subgraphs()};
// clang-format on

}  // namespace slim::model
