// Model families: one adapter per Hugging Face architecture (src/model/families/<family>.cpp),
// registered in src/model/family_registry.cpp. An adapter declares its traits row and its layer's
// role table: every module of a decoder layer once, with its role (what the runtime and the
// algorithms call it), its Hugging Face name, its llama.cpp name, its shape, bias and
// tensor-parallel split, and the smoothing subgraphs over those roles. Loading, the expected
// tensor layout, GGUF export and import, the savers and the processors all read this table; no
// other file spells a module name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "slim/io/model_config.h"
#include "slim/model/architecture.h"

namespace slim::model {

enum class ModuleKind { Linear, Norm };
// Tensor-parallel split of a linear: Column splits the output rows, Row the input columns.
enum class Split { None, Column, Row };
// Symbolic sizes a role's shape is written in, resolved against a config (resolve_dim).
enum class Dim {
  Hidden,              // hidden_size
  QOut,                // num_attention_heads * head_dim
  KVOut,               // num_key_value_heads * head_dim
  HeadDim,             // head_dim
  Intermediate,        // intermediate_size (dense MLP)
  ExpertIntermediate,  // one routed expert's intermediate size
  SharedIntermediate,  // the shared expert's intermediate size
  Experts,             // number of routed experts
  One
};
// When a linear carries a bias (ModelConfig::has_qkv_bias / has_o_bias / has_mlp_bias).
enum class BiasRule { Never, QKV, O, Mlp };
// The part of a layer a module belongs to. Attention is in every layer; the feed-forward of a
// layer is either DenseMlp or Router + Experts (+ SharedExpert when the config has one).
enum class Part { Attention, QKNorm, DenseMlp, Router, Experts, SharedExpert };

struct RoleSpec {
  const char* role;  // Slim's name: "attn_q", "expert_down" (slim/model/roles.h)
  // Hugging Face module path below "model.layers.N."; "{e}" stands for the expert index.
  const char* hf;
  // llama.cpp tensor base name below "blk.N."; routed experts are one stacked tensor [E, out, in].
  const char* gguf;
  ModuleKind kind;
  Part part;
  Dim out;  // linear weight [out, in]; norm weight [out]
  Dim in;
  BiasRule bias;
  Split split;
  // Whether pipelines quantize it by default. Routers stay float: their logits pick the experts,
  // msModelSlim's MoE presets exclude them and vLLM loads them unquantized.
  bool quantizable = true;
};

enum class SubgraphType { NormLinear, LinearLinear, OV, UpDown };
// "norm-linear", "linear-linear", "ov", "up-down" (msModelSlim's spellings).
const char* subgraph_type_name(SubgraphType type);

// A smoothing subgraph over roles. Expert roles expand: a norm feeding expert linears feeds those
// of every expert; an expert linear feeding another feeds the same expert's.
struct SubgraphSpec {
  SubgraphType type;
  const char* source;
  std::vector<const char*> targets;
  // ov under GQA: scales grouped by the maxima of each KV group's statistics (msModelSlim's
  // `group_method: max`, its Qwen3 adapters) rather than by the mean of the q-heads' scales.
  bool ov_group_max = false;
};

struct FamilySpec {
  ArchitectureTraits traits;
  std::vector<RoleSpec> roles;  // in checkpoint order (Hugging Face's module order)
  std::vector<SubgraphSpec> subgraphs;
};

const std::vector<const FamilySpec*>& registered_families();
// nullptr when unknown.
const FamilySpec* find_family(const std::string& architecture);
// The family of a parsed config (always known: parsing refuses unknown architectures).
const FamilySpec& family_of(const io::ModelConfig& config);

// ---------------------------------------------------------------------------- resolved table

int64_t resolve_dim(Dim dim, const io::ModelConfig& config);
// Whether `part` is present in decoder layer `layer`.
bool layer_has_part(const io::ModelConfig& config, int64_t layer, Part part);

// One module of one decoder layer, resolved against a config.
struct LayerModule {
  const RoleSpec* spec = nullptr;
  int64_t expert = -1;         // routed expert index, -1 otherwise
  std::string name;            // "model.layers.3.mlp.experts.17.down_proj"
  std::vector<int64_t> shape;  // of its weight
  bool has_bias = false;       // linears: a "<name>.bias" of [out]

  bool is_linear() const { return spec->kind == ModuleKind::Linear; }
  std::string weight_name() const { return name + ".weight"; }
  std::string bias_name() const { return name + ".bias"; }
};

// Every module of decoder layer `layer`, in checkpoint order (experts in index order).
std::vector<LayerModule> layer_modules(const io::ModelConfig& config, int64_t layer);

// A smoothing subgraph of one layer, with module names ("model.layers.3.input_layernorm",
// "model.layers.3.self_attn.q_proj"); `type` as subgraph_type_name.
struct Subgraph {
  std::string type;
  std::string source;
  std::vector<std::string> targets;
  bool ov_group_max = false;
};
std::vector<Subgraph> layer_subgraphs(const io::ModelConfig& config, int64_t layer);

// What a decoder-layer tensor name is in some registered family's role table:
// "model.layers.3.mlp.experts.17.down_proj.weight" -> layer 3, role expert_down, expert 17,
// suffix "weight". nullopt for names no family declares.
struct NamedRole {
  int64_t layer = -1;
  const RoleSpec* spec = nullptr;
  int64_t expert = -1;
  std::string suffix;  // "weight" or "bias"
};
std::optional<NamedRole> role_of_name(const std::string& tensor_name);
// The Hugging Face tensor name of a llama.cpp one ("blk.3.attn_q.weight"), for the families that
// export to `gguf_arch`; "" when unknown. Stacked expert tensors have no single name: "".
std::string hf_name_of_gguf(const std::string& gguf_arch, const std::string& gguf_name);

// ----------------------------------------------------------------------------- global tensors
// Names outside the decoder layers, shared by every family (src/model/families/common.cpp).
struct GlobalTensorNames {
  const char* embedding;       // "model.embed_tokens.weight"
  const char* final_norm;      // "model.norm.weight"
  const char* lm_head;         // "lm_head.weight"
  const char* lm_head_module;  // "lm_head"
  const char* gguf_embedding;  // "token_embd.weight"
  const char* gguf_final_norm;
  const char* gguf_lm_head;
};
const GlobalTensorNames& global_tensor_names();
// "model.layers.3." — the prefix of decoder layer `layer`'s modules.
std::string layer_prefix(int64_t layer);
// The decoder layer index of a tensor or module name, or -1 when it is not inside one.
int64_t layer_of_name(const std::string& name);

}  // namespace slim::model
