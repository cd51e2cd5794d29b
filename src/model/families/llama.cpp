// LlamaForCausalLM (Llama 2, 3, 3.1 with llama3 rope scaling). Defaults: transformers' LlamaConfig.
#include "common.h"

namespace slim::model {

// clang-format off
extern const FamilySpec kLlamaFamily = {
    // name               type     qkv    attn  mlp   qknorm window            eps   theta    maxpos window head winlayers
    {"LlamaForCausalLM", "llama", false, true, true, false, WindowRule::None, 1e-6, 10000.0, 2048,  0,     0,   0,
     /*gguf*/ {"llama", true, true}},
    families::concat({families::attention_roles(false), families::dense_mlp_roles()}),
    families::llama_like_subgraphs()};
// clang-format on

}  // namespace slim::model
