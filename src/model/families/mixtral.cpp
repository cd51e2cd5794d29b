// MixtralForCausalLM (Mixtral 8x7B, 8x22B): Mistral attention, every layer a mixture of experts
// (block_sparse_moe: router `gate`, experts w1 = gate, w3 = up, w2 = down) with softmax top-k
// routing always renormalised. llama.cpp's converter writes it as the `llama` architecture with
// expert tensors. Defaults: transformers' MixtralConfig.
#include "common.h"

#include "slim/model/roles.h"

namespace slim::model {

namespace {

std::vector<RoleSpec> mixtral_moe_roles() {
  using namespace roles;
  // clang-format off
  return {
    {kRouter,     "block_sparse_moe.gate",           "ffn_gate_inp",  ModuleKind::Linear, Part::Router,  Dim::Experts,            Dim::Hidden,             BiasRule::Never, Split::None, /*quantizable*/ false},
    {kExpertGate, "block_sparse_moe.experts.{e}.w1", "ffn_gate_exps", ModuleKind::Linear, Part::Experts, Dim::ExpertIntermediate, Dim::Hidden,             BiasRule::Never, Split::Column},
    {kExpertUp,   "block_sparse_moe.experts.{e}.w3", "ffn_up_exps",   ModuleKind::Linear, Part::Experts, Dim::ExpertIntermediate, Dim::Hidden,             BiasRule::Never, Split::Column},
    {kExpertDown, "block_sparse_moe.experts.{e}.w2", "ffn_down_exps", ModuleKind::Linear, Part::Experts, Dim::Hidden,             Dim::ExpertIntermediate, BiasRule::Never, Split::Row},
  };
  // clang-format on
}

}  // namespace

// clang-format off
extern const FamilySpec kMixtralFamily = {
    // name                 type       qkv    attn   mlp    qknorm window              eps   theta      maxpos  window head winlayers
    {"MixtralForCausalLM", "mixtral", false, false, false, false, WindowRule::Always, 1e-5, 1000000.0, 131072, 0,     0,   0,
     /*gguf*/ {"llama", true, true},
     /*moe*/ {"num_local_experts", "intermediate_size", nullptr,
              TopKNorm::Always, /*sparse_step_keys*/ false, 8, 2, 14336, 0}},
    families::concat({families::attention_roles(false), mixtral_moe_roles()}),
    families::llama_like_subgraphs()};
// clang-format on

}  // namespace slim::model
