// Subgraphs shared by the Llama-like families (private to src/model/families).
#pragma once

#include "slim/model/family.h"

namespace slim::model::families {

// norm-linear: input_layernorm -> q/k/v, post_attention_layernorm -> gate/up;
// ov: v_proj -> o_proj; up-down: up_proj -> down_proj.
std::vector<Subgraph> llama_like_subgraphs(const io::ModelConfig& config, int64_t layer);

}  // namespace slim::model::families
