// A family's role table resolved against a config: the modules and subgraphs of one layer.
#include <algorithm>

#include "slim/core/error.h"
#include "slim/core/text.h"
#include "slim/model/family.h"

namespace slim::model {

const char* subgraph_type_name(SubgraphType type) {
  switch (type) {
    case SubgraphType::NormLinear:
      return "norm-linear";
    case SubgraphType::LinearLinear:
      return "linear-linear";
    case SubgraphType::OV:
      return "ov";
    case SubgraphType::UpDown:
      return "up-down";
  }
  return "?";
}

int64_t resolve_dim(Dim dim, const io::ModelConfig& config) {
  switch (dim) {
    case Dim::Hidden:
      return config.hidden_size;
    case Dim::QOut:
      return config.num_attention_heads * config.head_dim;
    case Dim::KVOut:
      return config.num_key_value_heads * config.head_dim;
    case Dim::HeadDim:
      return config.head_dim;
    case Dim::Intermediate:
      return config.intermediate_size;
    case Dim::ExpertIntermediate:
      return config.moe ? config.moe->expert_intermediate_size : 0;
    case Dim::SharedIntermediate:
      return config.moe ? config.moe->shared_expert_intermediate_size : 0;
    case Dim::Experts:
      return config.moe ? config.moe->num_experts : 0;
    case Dim::One:
      return 1;
  }
  return 0;
}

bool layer_has_part(const io::ModelConfig& config, int64_t layer, Part part) {
  switch (part) {
    case Part::Attention:
      return true;
    case Part::QKNorm:
      return config.has_qk_norm();
    case Part::DenseMlp:
      return !config.is_moe_layer(layer);
    case Part::Router:
    case Part::Experts:
      return config.is_moe_layer(layer);
    case Part::SharedExpert:
      return config.is_moe_layer(layer) && config.moe->shared_expert_intermediate_size > 0;
  }
  return false;
}

namespace {

bool has_bias(BiasRule rule, const io::ModelConfig& config) {
  switch (rule) {
    case BiasRule::Never:
      return false;
    case BiasRule::QKV:
      return config.has_qkv_bias();
    case BiasRule::O:
      return config.has_o_bias();
    case BiasRule::Mlp:
      return config.has_mlp_bias();
  }
  return false;
}

std::string expert_name(const char* pattern, int64_t expert) {
  std::string name = pattern;
  const size_t at = name.find("{e}");
  SLIM_INTERNAL_ASSERT((at != std::string::npos) == (expert >= 0), "role pattern ", pattern,
                       " and expert index ", expert, " disagree");
  if (at != std::string::npos) name.replace(at, 3, std::to_string(expert));
  return name;
}

LayerModule resolve(const RoleSpec& spec, const io::ModelConfig& config, int64_t layer,
                    int64_t expert) {
  LayerModule module;
  module.spec = &spec;
  module.expert = expert;
  module.name = layer_prefix(layer) + expert_name(spec.hf, expert);
  module.shape = {resolve_dim(spec.out, config)};
  if (spec.kind == ModuleKind::Linear) module.shape.push_back(resolve_dim(spec.in, config));
  module.has_bias = spec.kind == ModuleKind::Linear && has_bias(spec.bias, config);
  return module;
}

}  // namespace

std::vector<LayerModule> layer_modules(const io::ModelConfig& config, int64_t layer) {
  const FamilySpec& family = family_of(config);
  std::vector<LayerModule> modules;
  // Routed experts run one after another, each gate/up/down: list them expert by expert.
  std::vector<const RoleSpec*> expert_roles;
  auto flush_experts = [&] {
    if (expert_roles.empty()) return;
    for (int64_t e = 0; e < config.moe->num_experts; ++e)
      for (const RoleSpec* spec : expert_roles)
        modules.push_back(resolve(*spec, config, layer, e));
    expert_roles.clear();
  };
  for (const RoleSpec& spec : family.roles) {
    if (!layer_has_part(config, layer, spec.part)) continue;
    if (spec.part == Part::Experts) {
      expert_roles.push_back(&spec);
      continue;
    }
    flush_experts();
    modules.push_back(resolve(spec, config, layer, -1));
  }
  flush_experts();
  return modules;
}

std::vector<Subgraph> layer_subgraphs(const io::ModelConfig& config, int64_t layer) {
  const FamilySpec& family = family_of(config);
  const std::vector<LayerModule> modules = layer_modules(config, layer);
  auto named = [&](const char* role, int64_t expert) -> const LayerModule* {
    for (const auto& module : modules)
      if (module.spec->role == std::string(role) && module.expert == expert) return &module;
    return nullptr;
  };
  auto is_expert_role = [&](const char* role) {
    for (const auto& spec : family.roles)
      if (spec.role == std::string(role)) return spec.part == Part::Experts;
    return false;
  };
  std::vector<Subgraph> subgraphs;
  for (const SubgraphSpec& spec : family.subgraphs) {
    const bool per_expert = is_expert_role(spec.source);
    const int64_t experts = per_expert && config.is_moe_layer(layer) ? config.moe->num_experts : 1;
    for (int64_t e = 0; e < experts; ++e) {
      const int64_t source_expert = per_expert ? e : -1;
      const LayerModule* source = named(spec.source, source_expert);
      if (source == nullptr) continue;
      Subgraph subgraph{subgraph_type_name(spec.type), source->name, {}, spec.ov_group_max};
      for (const char* target : spec.targets) {
        if (!is_expert_role(target)) {
          if (const auto* module = named(target, -1)) subgraph.targets.push_back(module->name);
        } else if (per_expert) {
          if (const auto* module = named(target, e)) subgraph.targets.push_back(module->name);
        } else if (config.is_moe_layer(layer)) {
          for (int64_t x = 0; x < config.moe->num_experts; ++x)
            if (const auto* module = named(target, x)) subgraph.targets.push_back(module->name);
        }
      }
      if (!subgraph.targets.empty()) subgraphs.push_back(std::move(subgraph));
    }
  }
  return subgraphs;
}

namespace {

// Whether `rest` ("mlp.experts.17.down_proj") is `pattern` ("mlp.experts.{e}.down_proj"); the
// expert index goes to `expert`.
bool matches_role(const std::string& pattern, const std::string& rest, int64_t* expert) {
  const size_t at = pattern.find("{e}");
  if (at == std::string::npos) {
    *expert = -1;
    return pattern == rest;
  }
  const std::string head = pattern.substr(0, at), tail = pattern.substr(at + 3);
  if (rest.size() <= head.size() + tail.size() || !starts_with(rest, head) ||
      !ends_with(rest, tail))
    return false;
  const std::string digits = rest.substr(head.size(), rest.size() - head.size() - tail.size());
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *expert = std::stoll(digits);
  return true;
}

}  // namespace

std::optional<NamedRole> role_of_name(const std::string& tensor_name) {
  const int64_t layer = layer_of_name(tensor_name);
  if (layer < 0) return std::nullopt;
  const std::string rest = tensor_name.substr(layer_prefix(layer).size());
  const size_t dot = rest.rfind('.');
  if (dot == std::string::npos) return std::nullopt;
  const std::string module = rest.substr(0, dot), suffix = rest.substr(dot + 1);
  if (suffix != "weight" && suffix != "bias") return std::nullopt;
  for (const FamilySpec* family : registered_families()) {
    for (const RoleSpec& spec : family->roles) {
      int64_t expert = -1;
      if (matches_role(spec.hf, module, &expert)) return NamedRole{layer, &spec, expert, suffix};
    }
  }
  return std::nullopt;
}

std::string hf_name_of_gguf(const std::string& gguf_arch, const std::string& gguf_name) {
  static const std::string prefix = "blk.";
  if (gguf_name.compare(0, prefix.size(), prefix) != 0) return "";
  const size_t dot = gguf_name.find('.', prefix.size());
  if (dot == std::string::npos) return "";
  const std::string digits = gguf_name.substr(prefix.size(), dot - prefix.size());
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos ||
      (digits.size() > 1 && digits[0] == '0'))
    return "";
  const std::string rest = gguf_name.substr(dot + 1);
  const size_t last = rest.rfind('.');
  if (last == std::string::npos) return "";
  const std::string base = rest.substr(0, last), suffix = rest.substr(last + 1);
  if (suffix != "weight" && suffix != "bias") return "";
  for (const FamilySpec* family : registered_families()) {
    if (family->traits.gguf.arch == nullptr || gguf_arch != family->traits.gguf.arch) continue;
    for (const RoleSpec& spec : family->roles) {
      if (base != spec.gguf || spec.part == Part::Experts) continue;
      return layer_prefix(std::stoll(digits)) + spec.hf + "." + suffix;
    }
  }
  return "";
}

}  // namespace slim::model
