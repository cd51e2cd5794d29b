#include "algo/smoothing.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "slim/core/error.h"
#include "slim/core/name_match.h"
#include "slim/core/yaml_fields.h"

namespace slim::algo::smoothing {

namespace {

using model::SubgraphType;

constexpr SubgraphType kAllTypes[] = {SubgraphType::NormLinear, SubgraphType::LinearLinear,
                                      SubgraphType::OV, SubgraphType::UpDown};

// msModelSlim's processing order (its subgraph priorities): up-down, ov, linear-linear,
// norm-linear.
int processing_rank(SubgraphType type) {
  switch (type) {
    case SubgraphType::UpDown:
      return 0;
    case SubgraphType::OV:
      return 1;
    case SubgraphType::LinearLinear:
      return 2;
    case SubgraphType::NormLinear:
      return 3;
  }
  return 4;
}

std::optional<SubgraphType> parse_type(const std::string& name) {
  for (SubgraphType type : kAllTypes) {
    if (name == model::subgraph_type_name(type)) return type;
  }
  return std::nullopt;
}

std::string type_names(const std::vector<SubgraphType>& types) {
  std::string out;
  for (SubgraphType type : types)
    out += (out.empty() ? "" : ", ") + std::string(model::subgraph_type_name(type));
  return out;
}

bool selected(const std::vector<std::string>& names, const Selection& selection) {
  bool included = false;
  for (const auto& name : names) {
    if (name_matches_any(name, selection.exclude)) return false;
    included = included || name_matches_any(name, selection.include);
  }
  return included;
}

// Heads, KV heads and head_dim of an ov subgraph: o_proj reads heads * head_dim channels, v_proj
// writes kv_heads * head_dim.
struct OvShape {
  int64_t kv_heads, ratio, head_dim;
};
OvShape ov_shape(const io::ModelConfig& config) {
  const int64_t heads = config.num_attention_heads;
  const int64_t kv = config.num_key_value_heads > 0 ? config.num_key_value_heads : heads;
  return {kv, heads / kv, config.head_dim};
}

// Scale 1 for channels no calibration token activated: nothing to migrate, and a floor scale
// there would only inflate the source.
at::Tensor guarded(const ScaleFormula& formula, const at::Tensor& a, const at::Tensor& w) {
  const at::Tensor s = formula(a, w);
  return at::where(a > 0, s, at::ones_like(s));
}

}  // namespace

const std::vector<SubgraphType> kEverySubgraphType = {std::begin(kAllTypes), std::end(kAllTypes)};

double unit_interval(const pipeline::ProcessorConfig& config, const char* key, double fallback) {
  const double value = yaml_double(config.node, key, config.path, fallback);
  SLIM_CHECK(value >= 0 && value <= 1, yaml_path(config.path, key), ": must be in [0, 1], found ",
             value, yaml_line(config.node[key]));
  return value;
}

int64_t search_tokens(const pipeline::ProcessorConfig& config) {
  const int64_t tokens = yaml_int(config.node, "search_tokens", config.path, 1024);
  SLIM_CHECK(tokens > 0, yaml_path(config.path, "search_tokens"), ": must be > 0, found ", tokens,
             yaml_line(config.node["search_tokens"]));
  return tokens;
}

bool parse_symmetric(const pipeline::ProcessorConfig& config) {
  return yaml_bool(config.node, "symmetric", config.path, true);
}

Selection parse_selection(const pipeline::ProcessorConfig& config,
                          const std::vector<SubgraphType>& allowed, bool types_key) {
  Selection selection;
  const std::string key_path = yaml_path(config.path, "enable_subgraph_type");
  const YAML::Node types = types_key ? config.node["enable_subgraph_type"] : YAML::Node();
  if (!types || types.IsNull()) {
    selection.types.insert(allowed.begin(), allowed.end());
  } else {
    for (const auto& name :
         yaml_string_list(config.node, "enable_subgraph_type", config.path, {})) {
      const auto type = parse_type(name);
      SLIM_CHECK(type.has_value(), key_path, ": unknown subgraph type ", quote(name),
                 "; expected one of ", type_names({std::begin(kAllTypes), std::end(kAllTypes)}),
                 yaml_line(types));
      SLIM_CHECK(std::find(allowed.begin(), allowed.end(), *type) != allowed.end(), key_path, ": ",
                 config.type, " does not smooth ", quote(name), " subgraphs (it handles ",
                 type_names(allowed), ")", yaml_line(types));
      selection.types.insert(*type);
    }
    SLIM_CHECK(!selection.types.empty(), key_path, ": empty; name at least one of ",
               type_names(allowed), yaml_line(types));
  }
  selection.include = yaml_string_list(config.node, "include", config.path, {"*"});
  selection.exclude = yaml_string_list(config.node, "exclude", config.path, {});
  for (const auto* patterns : {&selection.include, &selection.exclude}) {
    for (const auto& pattern : *patterns)
      expand_braces(pattern);  // syntax errors now, not at the first layer
  }
  return selection;
}

std::vector<Subgraph> layer_subgraphs(const io::ModelConfig& config, model::DecoderLayer& layer,
                                      const Selection& selection) {
  std::vector<Subgraph> out;
  for (const model::Subgraph& named : model::layer_subgraphs(config, layer.index)) {
    const auto type = parse_type(named.type);
    SLIM_INTERNAL_ASSERT(type.has_value(), "subgraph type ", named.type);
    if (!selection.types.count(*type)) continue;
    std::vector<std::string> names = named.targets;
    names.push_back(named.source);
    if (!selected(names, selection)) continue;
    Subgraph subgraph;
    subgraph.type = *type;
    subgraph.source = named.source;
    subgraph.ov_group_max = named.ov_group_max;
    if (*type == SubgraphType::NormLinear) {
      for (const auto& norm : layer.norms())
        if (norm.name == named.source) subgraph.norm_role = norm.role;
      SLIM_INTERNAL_ASSERT(!subgraph.norm_role.empty(), "norm ", named.source, " not in the layer");
    } else {
      subgraph.source_linear = layer.linear_named(named.source);
      SLIM_INTERNAL_ASSERT(subgraph.source_linear, "linear ", named.source, " not in the layer");
    }
    for (const auto& target : named.targets) {
      model::Linear* linear = layer.linear_named(target);
      SLIM_INTERNAL_ASSERT(linear, "linear ", target, " not in the layer");
      subgraph.targets.push_back(linear);
    }
    out.push_back(std::move(subgraph));
  }
  std::stable_sort(out.begin(), out.end(), [](const Subgraph& a, const Subgraph& b) {
    return processing_rank(a.type) < processing_rank(b.type);
  });
  return out;
}

bool touches(const std::string& module, const Selection& selection) {
  const auto named = model::role_of_name(module + ".weight");
  if (!named) return false;
  const std::string role = named->spec->role;
  for (const model::FamilySpec* family : model::registered_families()) {
    for (const auto& spec : family->subgraphs) {
      if (!selection.types.count(spec.type)) continue;
      bool member = role == spec.source;
      for (const char* target : spec.targets)
        member = member || role == target;
      if (member) {
        return name_matches_any(module, selection.include) &&
               !name_matches_any(module, selection.exclude);
      }
    }
  }
  return false;
}

// ------------------------------------------------------------------------- statistics

void ChannelStatistics::observe(const model::Linear& linear, const at::Tensor& input,
                                const at::Tensor& output) {
  const at::Tensor x = input.reshape({-1, input.size(-1)}).to(at::kFloat);
  if (x.size(0) == 0) return;
  const at::Tensor magnitude = x.abs();
  const at::Tensor call_absmax = magnitude.amax(0);
  auto [call_min, call_max] = at::aminmax(x, 0);
  if (tokens_ == 0) {
    absmax_ = call_absmax;
    min_ = call_min;
    max_ = call_max;
    abs_sum_ = magnitude.sum(0, /*keepdim=*/false, at::kDouble);
  } else {
    absmax_ = at::maximum(absmax_, call_absmax);
    min_ = at::minimum(min_, call_min);
    max_ = at::maximum(max_, call_max);
    abs_sum_ += magnitude.sum(0, /*keepdim=*/false, at::kDouble);
  }
  tokens_ += x.size(0);
  if (keep_rows_ <= 0) return;
  if (x.size(0) <= keep_rows_) {
    rows_.push_back(x.clone());
  } else {
    const at::Tensor index =
        at::linspace(0, static_cast<double>(x.size(0) - 1), keep_rows_, x.options())
            .round()
            .to(at::kLong);
    rows_.push_back(x.index_select(0, index));
  }
}

at::Tensor ChannelStatistics::absmean() const {
  return (abs_sum_ / static_cast<double>(std::max<int64_t>(tokens_, 1))).to(at::kFloat);
}

at::Tensor ChannelStatistics::rows() const {
  return rows_.empty() ? at::Tensor() : at::cat(rows_);
}

// ------------------------------------------------------------------------- scales

at::Tensor stacked_weight(const Subgraph& subgraph) {
  std::vector<at::Tensor> weights;
  for (const model::Linear* target : subgraph.targets)
    weights.push_back(target->weight().to(at::kFloat));
  return at::cat(weights, 0);
}

at::Tensor weight_absmax(const Subgraph& subgraph) {
  at::Tensor out;
  for (const model::Linear* target : subgraph.targets) {
    const at::Tensor column_max = target->weight().abs().amax(0).to(at::kFloat);
    out = out.defined() ? at::maximum(out, column_max) : column_max;
  }
  return out.clamp_min(1e-5);
}

at::Tensor subgraph_scales(const io::ModelConfig& config, const Subgraph& subgraph,
                           const at::Tensor& a, const at::Tensor& w, OvGrouping grouping,
                           const ScaleFormula& formula) {
  if (subgraph.type != SubgraphType::OV) return guarded(formula, a, w);
  const OvShape ov = ov_shape(config);
  const int64_t channels = a.size(-1);
  SLIM_INTERNAL_ASSERT(channels == ov.kv_heads * ov.ratio * ov.head_dim, "ov channels ", channels);
  at::Tensor grouped;  // [..., kv_heads, head_dim]
  if (grouping == OvGrouping::Mean) {
    const at::Tensor s = guarded(formula, a, w);
    std::vector<int64_t> shape(s.sizes().begin(), s.sizes().end() - 1);
    shape.insert(shape.end(), {ov.kv_heads, ov.ratio, ov.head_dim});
    grouped = s.reshape(shape).mean(-2);
  } else {
    const at::Tensor group_a = a.reshape({ov.kv_heads, ov.ratio, ov.head_dim}).amax(1).reshape(-1);
    const at::Tensor group_w = w.reshape({ov.kv_heads, ov.ratio, ov.head_dim}).amax(1).reshape(-1);
    const at::Tensor s = guarded(formula, group_a, group_w);
    std::vector<int64_t> shape(s.sizes().begin(), s.sizes().end() - 1);
    shape.insert(shape.end(), {ov.kv_heads, ov.head_dim});
    grouped = s.reshape(shape);
  }
  // Every q-head of a KV group reads that KV head's values: repeat the group's scale for each.
  std::vector<int64_t> expanded(grouped.sizes().begin(), grouped.sizes().end());
  expanded.insert(expanded.end() - 1, ov.ratio);  // [..., kv_heads, ratio, head_dim]
  std::vector<int64_t> out_shape(grouped.sizes().begin(), grouped.sizes().end() - 2);
  out_shape.push_back(channels);
  return grouped.unsqueeze(-2).expand(expanded).reshape(out_shape);
}

at::Tensor balanced_scales(const io::ModelConfig& config, const Subgraph& subgraph,
                           const ChannelStatistics& stats, double alpha, double scale_min,
                           bool centered) {
  const at::Tensor activation = centered ? (stats.max() - stats.min()) / 2 : stats.absmax();
  return subgraph_scales(config, subgraph, activation, weight_absmax(subgraph),
                         family_grouping(subgraph),
                         [alpha, scale_min](const at::Tensor& a, const at::Tensor& w) {
                           return (a.pow(alpha) / w.pow(1 - alpha)).clamp_min(scale_min);
                         });
}

at::Tensor fake_quant_rows(const at::Tensor& x) {
  const at::Tensor scale = x.abs().amax(-1, /*keepdim=*/true).clamp_min(1e-12) / 127.0;
  return (x / scale).round().clamp(-127, 127) * scale;
}

at::Tensor over_candidate_chunks(const at::Tensor& candidates, int64_t per_candidate_bytes,
                                 const std::function<at::Tensor(const at::Tensor&)>& loss) {
  constexpr int64_t kChunkBytes = int64_t{32} << 20;
  const int64_t k = candidates.size(0);
  const int64_t chunk =
      std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(per_candidate_bytes, 1));
  std::vector<at::Tensor> losses;
  for (int64_t start = 0; start < k; start += chunk)
    losses.push_back(loss(candidates.narrow(0, start, std::min(chunk, k - start))));
  return at::cat(losses);
}

at::Tensor reconstruction_errors(const at::Tensor& x, const at::Tensor& weight,
                                 const at::Tensor& scales) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor wf = weight.to(at::kFloat);
  const at::Tensor reference = at::matmul(xf, wf.t());
  const double norm = std::max(reference.pow(2).mean().sqrt().item<double>(), 1e-30);
  // The quantization temporaries of a candidate: its scaled inputs, weights and two outputs.
  const int64_t per_candidate = (xf.numel() + wf.numel() + 2 * reference.numel()) * 4;
  return over_candidate_chunks(scales.to(at::kFloat), per_candidate, [&](const at::Tensor& s) {
    const at::Tensor xq = fake_quant_rows(xf.unsqueeze(0) / s.unsqueeze(1));  // [k, N, C]
    const at::Tensor wq = fake_quant_rows(wf.unsqueeze(0) * s.unsqueeze(1));  // [k, O, C]
    const at::Tensor y = at::bmm(xq, wq.transpose(1, 2));                     // [k, N, O]
    return (y - reference.unsqueeze(0)).pow(2).mean({1, 2}, false, at::kDouble).sqrt() / norm;
  });
}

at::Tensor channel_shift(const ChannelStatistics& stats) {
  return (stats.max() + stats.min()) / 2;
}

void apply_shift(model::DecoderLayer& layer, const Subgraph& subgraph, const at::Tensor& shift) {
  SLIM_INTERNAL_ASSERT(subgraph.type == SubgraphType::NormLinear, "shift of a ",
                       model::subgraph_type_name(subgraph.type), " subgraph");
  for (model::Linear* target : subgraph.targets) {
    SLIM_CHECK(target->has_float_weight(), "linear ", target->name(),
               " is already quantized; smoothing transforms float weights (run it before "
               "linear_quant)");
    const at::Tensor moved = at::mv(target->weight(), shift.to(target->weight().options()));
    target->set_bias(target->bias() ? *target->bias() + moved.to(target->bias()->options())
                                    : moved);
  }
  const at::Tensor& weight = layer.norm(subgraph.norm_role);
  const auto& bias = layer.norm_bias(subgraph.norm_role);
  const at::Tensor moved = shift.to(weight.options());
  layer.set_norm_bias(subgraph.norm_role, bias ? *bias - moved.to(bias->options()) : -moved);
}

void apply_scales(const io::ModelConfig& config, model::DecoderLayer& layer,
                  const Subgraph& subgraph, const at::Tensor& scales) {
  for (model::Linear* target : subgraph.targets) {
    SLIM_CHECK(target->has_float_weight(), "linear ", target->name(),
               " is already quantized; smoothing transforms float weights (run it before "
               "linear_quant)");
    target->set_weight(target->weight() * scales.to(target->weight().options()).unsqueeze(0));
  }
  if (subgraph.type == SubgraphType::NormLinear) {
    const at::Tensor& norm = layer.norm(subgraph.norm_role);
    layer.set_norm(subgraph.norm_role, norm / scales.to(norm.options()));
    // A norm bias (asymmetric smoothing's) is part of the output the scales divide.
    if (const auto& bias = layer.norm_bias(subgraph.norm_role))
      layer.set_norm_bias(subgraph.norm_role, *bias / scales.to(bias->options()));
    return;
  }
  at::Tensor source_scales = scales;
  if (subgraph.type == SubgraphType::OV) {
    const OvShape ov = ov_shape(config);
    source_scales = scales.reshape({ov.kv_heads, ov.ratio, ov.head_dim}).select(1, 0).reshape(-1);
  }
  model::Linear& source = *subgraph.source_linear;
  SLIM_CHECK(source.has_float_weight(), "linear ", source.name(),
             " is already quantized; smoothing transforms float weights (run it before "
             "linear_quant)");
  SLIM_INTERNAL_ASSERT(source.out_features() == source_scales.size(0), "source ", source.name(),
                       " rows vs scales");
  const at::Tensor rows = source_scales.to(source.weight().options());
  source.set_weight(source.weight() / rows.unsqueeze(1));
  if (source.bias()) source.set_bias(*source.bias() / rows.to(source.bias()->options()));
}

// ------------------------------------------------------------------------- processor

namespace {

// Per-channel min/max of a linear's input over the calibration forward.
class InputRange : public model::LinearHook {
 public:
  void observe(const model::Linear& linear, const at::Tensor& input,
               const at::Tensor& output) override {
    const at::Tensor x = input.reshape({-1, input.size(-1)});
    if (x.size(0) == 0) return;
    auto [lo, hi] = at::aminmax(x, 0);
    lo = lo.to(at::kFloat);
    hi = hi.to(at::kFloat);
    range.min = range.min.defined() ? at::minimum(range.min, lo) : lo;
    range.max = range.max.defined() ? at::maximum(range.max, hi) : hi;
  }
  quant::MinMax range;
};

}  // namespace

void SmoothingProcessor::describe(LinearPlan& plan) const {
  if (touches(plan.module, selection_)) plan.processors.push_back(type());
}

void SmoothingProcessor::preprocess(const RunContext& run, LayerUnit& unit) {
  subgraphs_ = layer_subgraphs(*run.config, *unit.layer, selection_);
  observed_.clear();
  // The search budget is shared by the samples: each forward call keeps its share of rows.
  const int64_t samples = std::max<int64_t>(static_cast<int64_t>(unit.samples), 1);
  const int64_t per_call = keep_rows_ > 0 ? (keep_rows_ + samples - 1) / samples : 0;
  for (const Subgraph& subgraph : subgraphs_) {
    std::vector<std::string> names{subgraph.source};
    for (const model::Linear* target : subgraph.targets)
      names.push_back(target->name());
    for (const auto* patterns : {&selection_.include, &selection_.exclude}) {
      for (const auto& pattern : *patterns) {
        for (const auto& name : names)
          if (name_matches(name, pattern)) matched_patterns_.insert(pattern);
      }
    }
    auto stats = std::make_shared<ChannelStatistics>(per_call);
    observed_.emplace_back(subgraph.targets[0]->add_hook(stats), stats);
  }
  ranges_.clear();
  for (model::Linear* linear : unit.layer->linears()) {
    if (!linear->has_float_weight()) continue;
    auto range = std::make_shared<InputRange>();
    ranges_.push_back({linear->name(), linear->add_hook(range), range});
  }
}

void SmoothingProcessor::postprocess(const RunContext& run, LayerUnit& unit) {
  for (auto& [handle, stats] : observed_)
    unit.layer->remove_hook(handle);
  for (const auto& observed : ranges_)
    unit.layer->remove_hook(observed.handle);
  // target -> the shift subtracted from its inputs, and the scales they were then divided by
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> applied;
  for (size_t i = 0; i < subgraphs_.size(); ++i) {
    const Subgraph& subgraph = subgraphs_[i];
    const ChannelStatistics& stats = *observed_[i].second;
    if (stats.tokens() == 0) {
      ++unreached_;  // an expert no calibration token chose: left as it is
      continue;
    }
    const at::Tensor scales = compute(run, subgraph, stats);
    const int64_t channels = subgraph.targets[0]->in_features();
    SLIM_CHECK(scales.dim() == 1 && scales.size(0) == channels, path_, ": layer ",
               unit.layer->index, ", subgraph ", subgraph.source, ": ", channels,
               " scales expected");
    SLIM_CHECK(at::isfinite(scales).all().item<bool>() && (scales > 0).all().item<bool>(), path_,
               ": layer ", unit.layer->index, ", subgraph ",
               model::subgraph_type_name(subgraph.type), " from ", subgraph.source,
               ": non-finite or non-positive smoothing scales (the "
               "calibration activations overflow)");
    at::Tensor shift = at::zeros_like(scales, at::kFloat);
    if (centered(subgraph)) {
      shift = channel_shift(stats);
      apply_shift(*unit.layer, subgraph, shift);
    }
    apply_scales(*run.config, *unit.layer, subgraph, scales);
    for (const model::Linear* target : subgraph.targets) {
      // A target of two subgraphs is scaled twice; only norm-linear targets are shifted, and
      // those are no other subgraph's targets.
      auto [it, inserted] =
          applied.emplace(target->name(), std::pair{shift, scales.to(at::kFloat)});
      if (!inserted) it->second.second = it->second.second * scales.to(at::kFloat);
    }
  }
  // The transform is exact: each input the layer computes now is the observed one divided by the
  // scales of the subgraphs that target its linear, channel by channel.
  for (const auto& observed : ranges_) {
    const quant::MinMax& range = static_cast<const InputRange&>(*observed.hook).range;
    if (!range.min.defined()) continue;  // an expert no token reached
    quant::MinMax now = range;
    if (auto it = applied.find(observed.linear); it != applied.end()) {
      const auto& [shift, scales] = it->second;
      now.min = (range.min - shift) / scales;
      now.max = (range.max - shift) / scales;
    }
    unit.input_ranges[observed.linear] = now;
  }
  ranges_.clear();
  observed_.clear();
  subgraphs_.clear();
}

void SmoothingProcessor::post_run(const RunContext& run) {
  for (const auto* patterns : {&selection_.include, &selection_.exclude}) {
    for (const auto& pattern : *patterns) {
      if (!matched_patterns_.count(pattern) && pattern != "*") {
        run.warn(path_ + ": pattern " + quote(pattern) + " (" +
                 (patterns == &selection_.include ? "include" : "exclude") +
                 ") matched no smoothing subgraph of any decoder layer");
      }
    }
  }
  if (unreached_ > 0) {
    run.warn(str(path_, ": ", unreached_,
                 " subgraphs (routed experts) received no calibration "
                 "token and were left unsmoothed"));
  }
}

}  // namespace slim::algo::smoothing
