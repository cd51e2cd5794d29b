// The Hugging Face names every Llama-like family shares, and their llama.cpp counterparts.
#include "common.h"

#include "slim/model/roles.h"

namespace slim::model {

const GlobalTensorNames& global_tensor_names() {
  static const GlobalTensorNames names = {
      "model.embed_tokens.weight", "model.norm.weight",  "lm_head.weight", "lm_head",
      "token_embd.weight",         "output_norm.weight", "output.weight",
  };
  return names;
}

std::string layer_prefix(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".";
}

int64_t layer_of_name(const std::string& name) {
  static const std::string prefix = "model.layers.";
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  size_t end = prefix.size();
  int64_t layer = 0;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9' && end - prefix.size() < 9)
    layer = layer * 10 + (name[end++] - '0');
  if (end == prefix.size() || end >= name.size() || name[end] != '.') return -1;
  return layer;
}

namespace families {

using namespace roles;

std::vector<RoleSpec> attention_roles(bool qk_norm) {
  // clang-format off
  std::vector<RoleSpec> rows = {
    // role       hf                          gguf           kind                part             out         in           bias            split
    {kAttnNorm, "input_layernorm",          "attn_norm",   ModuleKind::Norm,   Part::Attention, Dim::Hidden, Dim::One,    BiasRule::Never, Split::None},
    {kQ,        "self_attn.q_proj",         "attn_q",      ModuleKind::Linear, Part::Attention, Dim::QOut,   Dim::Hidden, BiasRule::QKV,   Split::Column},
    {kK,        "self_attn.k_proj",         "attn_k",      ModuleKind::Linear, Part::Attention, Dim::KVOut,  Dim::Hidden, BiasRule::QKV,   Split::Column},
    {kV,        "self_attn.v_proj",         "attn_v",      ModuleKind::Linear, Part::Attention, Dim::KVOut,  Dim::Hidden, BiasRule::QKV,   Split::Column},
    {kO,        "self_attn.o_proj",         "attn_output", ModuleKind::Linear, Part::Attention, Dim::Hidden, Dim::QOut,   BiasRule::O,     Split::Row},
    {kQNorm,    "self_attn.q_norm",         "attn_q_norm", ModuleKind::Norm,   Part::QKNorm,    Dim::HeadDim, Dim::One,   BiasRule::Never, Split::None},
    {kKNorm,    "self_attn.k_norm",         "attn_k_norm", ModuleKind::Norm,   Part::QKNorm,    Dim::HeadDim, Dim::One,   BiasRule::Never, Split::None},
    {kFfnNorm,  "post_attention_layernorm", "ffn_norm",    ModuleKind::Norm,   Part::Attention, Dim::Hidden, Dim::One,    BiasRule::Never, Split::None},
  };
  // clang-format on
  if (!qk_norm) {
    std::vector<RoleSpec> kept;
    for (const auto& row : rows)
      if (row.part != Part::QKNorm) kept.push_back(row);
    rows = kept;
  }
  return rows;
}

std::vector<RoleSpec> dense_mlp_roles() {
  // clang-format off
  return {
    {kGate, "mlp.gate_proj", "ffn_gate", ModuleKind::Linear, Part::DenseMlp, Dim::Intermediate, Dim::Hidden,       BiasRule::Mlp, Split::Column},
    {kUp,   "mlp.up_proj",   "ffn_up",   ModuleKind::Linear, Part::DenseMlp, Dim::Intermediate, Dim::Hidden,       BiasRule::Mlp, Split::Column},
    {kDown, "mlp.down_proj", "ffn_down", ModuleKind::Linear, Part::DenseMlp, Dim::Hidden,       Dim::Intermediate, BiasRule::Mlp, Split::Row},
  };
  // clang-format on
}

std::vector<RoleSpec> qwen_moe_roles(bool shared) {
  // clang-format off
  std::vector<RoleSpec> rows = {
    {kRouter,      "mlp.gate",                    "ffn_gate_inp",  ModuleKind::Linear, Part::Router,  Dim::Experts,            Dim::Hidden,             BiasRule::Never, Split::None, /*quantizable*/ false},
    {kExpertGate,  "mlp.experts.{e}.gate_proj",   "ffn_gate_exps", ModuleKind::Linear, Part::Experts, Dim::ExpertIntermediate, Dim::Hidden,             BiasRule::Never, Split::Column},
    {kExpertUp,    "mlp.experts.{e}.up_proj",     "ffn_up_exps",   ModuleKind::Linear, Part::Experts, Dim::ExpertIntermediate, Dim::Hidden,             BiasRule::Never, Split::Column},
    {kExpertDown,  "mlp.experts.{e}.down_proj",   "ffn_down_exps", ModuleKind::Linear, Part::Experts, Dim::Hidden,             Dim::ExpertIntermediate, BiasRule::Never, Split::Row},
  };
  if (shared) {
    std::vector<RoleSpec> shared_rows = {
    {kSharedGate,   "mlp.shared_expert.gate_proj", "ffn_gate_shexp",     ModuleKind::Linear, Part::SharedExpert, Dim::SharedIntermediate, Dim::Hidden,             BiasRule::Never, Split::Column},
    {kSharedUp,     "mlp.shared_expert.up_proj",   "ffn_up_shexp",       ModuleKind::Linear, Part::SharedExpert, Dim::SharedIntermediate, Dim::Hidden,             BiasRule::Never, Split::Column},
    {kSharedDown,   "mlp.shared_expert.down_proj", "ffn_down_shexp",     ModuleKind::Linear, Part::SharedExpert, Dim::Hidden,             Dim::SharedIntermediate, BiasRule::Never, Split::Row},
    {kSharedRouter, "mlp.shared_expert_gate",      "ffn_gate_inp_shexp", ModuleKind::Linear, Part::SharedExpert, Dim::One,                Dim::Hidden,             BiasRule::Never, Split::None, /*quantizable*/ false},
    };
    rows.insert(rows.end(), shared_rows.begin(), shared_rows.end());
  }
  // clang-format on
  return concat({dense_mlp_roles(), rows});
}

std::vector<RoleSpec> concat(std::vector<std::vector<RoleSpec>> parts) {
  std::vector<RoleSpec> rows;
  for (auto& part : parts)
    rows.insert(rows.end(), part.begin(), part.end());
  return rows;
}

std::vector<SubgraphSpec> llama_like_subgraphs(bool ov_group_max) {
  // The router (first: it sees every token, so its input statistics are the norm's) and the
  // shared expert's gate read the feed-forward norm too: one norm-linear subgraph with every
  // expert's gate and up, so the transform stays exact.
  return {
      {SubgraphType::NormLinear, kAttnNorm, {kQ, kK, kV}},
      {SubgraphType::NormLinear,
       kFfnNorm,
       {kRouter, kGate, kUp, kExpertGate, kExpertUp, kSharedGate, kSharedUp, kSharedRouter}},
      {SubgraphType::OV, kV, {kO}, ov_group_max},
      {SubgraphType::UpDown, kUp, {kDown}},
      {SubgraphType::UpDown, kExpertUp, {kExpertDown}},
      {SubgraphType::UpDown, kSharedUp, {kSharedDown}},
  };
}

}  // namespace families
}  // namespace slim::model
