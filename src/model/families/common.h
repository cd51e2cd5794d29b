// Role rows shared by the Llama-like families (private to src/model/families).
#pragma once

#include <vector>

#include "slim/model/family.h"

namespace slim::model::families {

// input_layernorm, q/k/v/o projections (self_attn.*), post_attention_layernorm.
std::vector<RoleSpec> attention_roles(bool qk_norm);
// mlp.gate_proj / up_proj / down_proj.
std::vector<RoleSpec> dense_mlp_roles();
// Qwen2-MoE / Qwen3-MoE: mlp.gate (router), mlp.experts.{e}.*; with `shared`, Qwen2-MoE's
// mlp.shared_expert.* and mlp.shared_expert_gate. Dense layers (decoder_sparse_step,
// mlp_only_layers) keep mlp.gate_proj / up_proj / down_proj.
std::vector<RoleSpec> qwen_moe_roles(bool shared);
std::vector<RoleSpec> concat(std::vector<std::vector<RoleSpec>> parts);

// norm-linear: attention norm -> q/k/v, feed-forward norm -> gate/up (dense, experts, shared);
// ov: v -> o; up-down: up -> down (dense, each expert, shared).
// `ov_group_max`: the family's ov scales use max grouping (SubgraphSpec::ov_group_max).
std::vector<SubgraphSpec> llama_like_subgraphs(bool ov_group_max = false);

}  // namespace slim::model::families
