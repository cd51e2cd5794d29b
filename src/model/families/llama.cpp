// LlamaForCausalLM (Llama 2, 3, 3.1 with llama3 rope scaling). Defaults: transformers' LlamaConfig.
#include "llama_like.h"

namespace slim::model::families {

std::vector<Subgraph> llama_like_subgraphs(const io::ModelConfig&, int64_t layer) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  return {
      {"norm-linear",
       p + "input_layernorm",
       {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}},
      {"norm-linear", p + "post_attention_layernorm", {p + "mlp.gate_proj", p + "mlp.up_proj"}},
      {"ov", p + "self_attn.v_proj", {p + "self_attn.o_proj"}},
      {"up-down", p + "mlp.up_proj", {p + "mlp.down_proj"}},
  };
}

}  // namespace slim::model::families

namespace slim::model {

// clang-format off
extern const FamilySpec kLlamaFamily = {
    // name               type     qkv    attn  mlp   qknorm window            eps   theta    maxpos window head winlayers
    {"LlamaForCausalLM", "llama", false, true, true, false, WindowRule::None, 1e-6, 10000.0, 2048,  0,     0,   0},
    families::llama_like_subgraphs};
// clang-format on

}  // namespace slim::model
