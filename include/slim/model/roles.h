// Slim's names for the modules of a decoder layer, the keys of every family's role table
// (slim/model/family.h). The runtime and the algorithms address modules by these, never by a
// Hugging Face module path.
#pragma once

namespace slim::model::roles {

// Attention.
inline constexpr const char* kAttnNorm = "attn_norm";  // RMSNorm before attention
inline constexpr const char* kQ = "attn_q";
inline constexpr const char* kK = "attn_k";
inline constexpr const char* kV = "attn_v";
inline constexpr const char* kO = "attn_output";
inline constexpr const char* kQNorm = "attn_q_norm";  // per-head RMSNorm (Qwen3)
inline constexpr const char* kKNorm = "attn_k_norm";
// Feed-forward.
inline constexpr const char* kFfnNorm = "ffn_norm";  // RMSNorm before the feed-forward
inline constexpr const char* kGate = "ffn_gate";     // dense SwiGLU MLP
inline constexpr const char* kUp = "ffn_up";
inline constexpr const char* kDown = "ffn_down";
inline constexpr const char* kRouter = "ffn_router";       // mixture of experts: [experts, hidden]
inline constexpr const char* kExpertGate = "expert_gate";  // routed experts (indexed)
inline constexpr const char* kExpertUp = "expert_up";
inline constexpr const char* kExpertDown = "expert_down";
inline constexpr const char* kSharedGate = "shared_gate";  // the shared expert (Qwen2-MoE)
inline constexpr const char* kSharedUp = "shared_up";
inline constexpr const char* kSharedDown = "shared_down";
inline constexpr const char* kSharedRouter = "shared_router";  // its sigmoid gate [1, hidden]

}  // namespace slim::model::roles
