// MistralForCausalLM: Llama layout with sliding-window attention on every layer. llama.cpp's
// converter writes it as the `llama` architecture.
#include "common.h"

namespace slim::model {

// clang-format off
extern const FamilySpec kMistralFamily = {
    // name                 type       qkv    attn   mlp    qknorm window              eps   theta    maxpos  window head winlayers
    {"MistralForCausalLM", "mistral", false, false, false, false, WindowRule::Always, 1e-6, 10000.0, 131072, 4096,  0,   0,
     /*gguf*/ {"llama", true, true}},
    families::concat({families::attention_roles(false), families::dense_mlp_roles()}),
    families::llama_like_subgraphs()};
// clang-format on

}  // namespace slim::model
