// `linear_quant` (spec msmodelslim-v1.md §2.4, §2.6, §3.7): min/max (round-to-nearest)
// quantization of the selected linears of each decoder layer, with an activation and a weight
// QConfig. Static activations (W8A8, W8A8_MIX) are observed per tensor during the calibration
// forward, by their min/max or (`method: histogram`) by the L2-optimal clip range of their
// histogram; every other form is data-free. Each selected linear is then deployed (a
// quant::DeployedLinear record) and runs as deployed for the rest of the layer's passes.
#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "algo/processors.h"
#include "slim/core/error.h"
#include "slim/core/name_match.h"
#include "slim/core/yaml_fields.h"
#include "slim/model/deployed_computation.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/histogram_observer.h"
#include "slim/quant/observer.h"

namespace slim::algo {

namespace {

using Aggregation = quant::ActPerTensorMinMaxObserver::Aggregation;

// How static activation ranges are observed (the act QConfig's method).
struct ActObservation {
  bool histogram = false;
  Aggregation aggregation = Aggregation::Max;  // min/max only
  // Histogram only (V0 act_method 3): a linear whose input has a range score above this
  // (quant::ActRangeScore) takes its min/max range instead.
  std::optional<double> range_score_threshold;
};

// Observes the (transformed) input of one linear during the calibration forward.
class InputObserver : public model::LinearHook {
 public:
  InputObserver(const std::string& name, const ActObservation& how)
      : threshold_(how.range_score_threshold) {
    if (how.histogram) histogram_.emplace(name);
    if (!how.histogram || threshold_) minmax_.emplace(name, how.aggregation);
  }
  void observe(const model::Linear& linear, const at::Tensor& input,
               const at::Tensor& output) override {
    if (histogram_) histogram_->update(input);
    if (minmax_) minmax_->update(input);
    if (threshold_) score_.update(input);
  }
  int64_t count() const { return histogram_ ? histogram_->count() : minmax_->count(); }
  quant::MinMax get() const {
    if (!histogram_ || (threshold_ && score_.score() > *threshold_)) return minmax_->get();
    return histogram_->get();
  }

 private:
  std::optional<double> threshold_;
  std::optional<quant::ActPerTensorMinMaxObserver> minmax_;
  std::optional<quant::ActPerTensorHistogramObserver> histogram_;
  quant::ActRangeScore score_;
};

struct Observed {
  model::HookHandle handle;
  std::shared_ptr<InputObserver> hook;
};

class LinearQuant : public Processor {
 public:
  LinearQuant(std::string path, quant::DeployedForm form, ActObservation observation,
              std::vector<std::string> include, std::vector<std::string> exclude)
      : path_(std::move(path)),
        form_(form),
        observation_(observation),
        include_(std::move(include)),
        exclude_(std::move(exclude)) {}

  std::string type() const override { return "linear_quant"; }
  bool is_data_free() const override { return !static_activations(); }
  std::vector<quant::DeployedForm> forms() const override { return {form_}; }

  void describe(LinearPlan& plan) const override {
    if (!selected(plan.module)) return;
    plan.processors.push_back(type());
    plan.form = form_;
  }

  bool needs_forward(const LayerUnit& unit) const override {
    return static_activations() && handed_.empty();
  }

  void preprocess(const RunContext& run, LayerUnit& unit) override {
    observed_.clear();
    handed_ = handed_ranges(unit);
    for (model::Linear* linear : unit.layer->linears()) {
      if (!selected(linear->name())) continue;
      note_match(linear->name());
      SLIM_CHECK(linear->has_float_weight(), path_, ": linear ", linear->name(),
                 " is already quantized (a processor before this one, or a quantized "
                 "checkpoint); linear_quant needs float weights");
      check_groups(*linear);
      if (!static_activations() || !handed_.empty()) continue;
      auto hook = std::make_shared<InputObserver>(linear->name(), observation_);
      observed_[linear->name()] = {linear->add_hook(hook), hook};
    }
  }

  void postprocess(const RunContext& run, LayerUnit& unit) override {
    const std::map<std::string, quant::MinMax> ranges = activation_ranges(run, unit);
    for (model::Linear* linear : unit.layer->linears()) {
      if (!selected(linear->name())) continue;
      if (auto it = observed_.find(linear->name()); it != observed_.end())
        linear->remove_hook(it->second.handle);
      quant::DeployedLinear record = deploy(run, *linear, ranges);
      // The next layer's inputs come from the deployed computation with an fp32 product.
      linear->set_stored_computation(
          model::deployed_computation(record, run.device, model::DeployedProduct::Fp32));
      linear->drop_float_weight();
      (*unit.deployed)[linear->name()] = std::move(record);
    }
    observed_.clear();
    handed_.clear();
  }

  void post_run(const RunContext& run) override {
    for (const auto* patterns : {&include_, &exclude_}) {
      for (const auto& pattern : *patterns) {
        if (!matched_patterns_.count(pattern)) {
          run.warn(path_ + ": pattern " + quote(pattern) + " (" +
                   (patterns == &include_ ? "include" : "exclude") +
                   ") matched no linear of any decoder layer");
        }
      }
    }
  }

 private:
  bool static_activations() const {
    return quant::deployed_form_spec(form_.tag).activations == quant::Activations::Static;
  }
  // Per-group weights split the input dim into whole groups (msModelSlim reshapes it the same
  // way); refused before anything is quantized, with the group sizes that would fit.
  void check_groups(const model::Linear& linear) const {
    const int64_t group =
        form_.weight.scope == quant::QScope::PerGroup ? form_.weight.group_size : 0;
    const int64_t in = linear.in_features();
    if (group <= 0 || in % group == 0) return;
    std::string fits;
    for (int64_t g : {256, 128, 64, 32, 16}) {
      if (in % g == 0) fits += (fits.empty() ? "" : ", ") + std::to_string(g);
    }
    SLIM_FAIL(path_, ".qconfig.weight: group_size ", group, " does not divide the input dim ", in,
              " of linear ", linear.name(), "; choose one that does",
              fits.empty() ? std::string() : " (" + fits + ")", ", or exclude the linear");
  }
  bool selected(const std::string& module) const {
    return name_matches_any(module, include_) && !name_matches_any(module, exclude_);
  }
  void note_match(const std::string& module) {
    for (const auto* patterns : {&include_, &exclude_}) {
      for (const auto& pattern : *patterns) {
        if (name_matches(module, pattern)) matched_patterns_.insert(pattern);
      }
    }
  }

  // The per-tensor ranges of every selected linear from the per-channel ranges a processor
  // before this one observed in its own forward and carried through its transform
  // (LayerUnit::input_ranges): the same global min and max a forward now would observe, up to
  // fp32 rounding, without running it. Only for min/max with `max` aggregation (neither a mean of
  // per-sample ranges nor a histogram can be rebuilt from them), and only when every selected
  // linear has one; otherwise empty.
  std::map<std::string, quant::MinMax> handed_ranges(const LayerUnit& unit) const {
    std::map<std::string, quant::MinMax> out;
    if (!static_activations() || observation_.histogram ||
        observation_.aggregation != Aggregation::Max)
      return out;
    for (const model::Linear* linear : unit.layer->linears()) {
      if (!selected(linear->name())) continue;
      auto it = unit.input_ranges.find(linear->name());
      if (it == unit.input_ranges.end()) return {};
      out[linear->name()] = {it->second.min.min().reshape({1}), it->second.max.max().reshape({1})};
    }
    return out;
  }

  // The per-tensor activation min/max of every observed linear. A routed expert that no
  // calibration token reached borrows the union of the ranges its siblings of the same role saw
  // (the same tokens' states feed every expert of a role), and is reported by name.
  std::map<std::string, quant::MinMax> activation_ranges(const RunContext& run,
                                                         LayerUnit& unit) const {
    if (!handed_.empty()) return handed_;
    std::map<std::string, quant::MinMax> ranges;
    std::map<std::string, quant::MinMax> by_role;
    std::vector<const model::Linear*> unreached;
    for (model::Linear* linear : unit.layer->linears()) {
      auto it = observed_.find(linear->name());
      if (it == observed_.end()) continue;
      const InputObserver& observer = *it->second.hook;
      if (observer.count() == 0) {
        unreached.push_back(linear);
        continue;
      }
      quant::MinMax range = observer.get();
      ranges[linear->name()] = range;
      auto [role, inserted] = by_role.emplace(linear->role(), range);
      if (!inserted) {
        role->second.min = at::minimum(role->second.min, range.min);
        role->second.max = at::maximum(role->second.max, range.max);
      }
    }
    std::string names;
    for (const model::Linear* linear : unreached) {
      auto role = by_role.find(linear->role());
      SLIM_CHECK(linear->expert() >= 0 && role != by_role.end(), path_, ": no calibration token ",
                 "reached linear ", linear->name(),
                 ", so its static activation range is unknown (more or longer calibration "
                 "samples, or exclude it)");
      ranges[linear->name()] = role->second;
      names += (names.empty() ? "" : ", ") + linear->name();
    }
    if (!unreached.empty()) {
      run.warn(str(path_, ": layer ", unit.layer->index, ": ", unreached.size(),
                   " experts received no calibration token; their activation ranges are the "
                   "union of their siblings' of the same role: ",
                   names));
    }
    return ranges;
  }

  quant::DeployedLinear deploy(const RunContext& run, const model::Linear& linear,
                               const std::map<std::string, quant::MinMax>& ranges) const {
    const std::string& name = linear.name();
    // The layer computes in fp32; msModelSlim's arithmetic runs in the checkpoint's dtype (the
    // round trip through fp32 is exact for weights no processor changed).
    const bool reference = run.numerics == quant::Numerics::MsModelSlim;
    at::Tensor weight = linear.weight();
    if (reference) weight = weight.to(run.stored_dtype(name + ".weight"));
    std::optional<at::Tensor> bias = linear.bias();
    if (bias) bias = bias->to(run.stored_dtype(name + ".bias"));
    std::optional<quant::QParams> act_params;
    if (static_activations()) {
      const quant::MinMax& range = ranges.at(name);
      at::Tensor min = range.min.reshape({1});
      at::Tensor max = range.max.reshape({1});
      if (reference) {
        min = min.to(run.model_dtype);
        max = max.to(run.model_dtype);
      } else {
        min = min.to(at::kFloat);
        max = max.to(at::kFloat);
      }
      act_params = quant::calculate_qparam(name + " (input)", min, max, form_.act, run.numerics);
    }
    return quant::deploy_linear(name, weight, bias, form_.act, form_.weight, act_params,
                                run.model_dtype, run.numerics);
  }

  std::string path_;
  quant::DeployedForm form_;
  ActObservation observation_;
  std::vector<std::string> include_;
  std::vector<std::string> exclude_;
  std::map<std::string, Observed> observed_;
  std::map<std::string, quant::MinMax> handed_;
  std::set<std::string> matched_patterns_;
};

// The methods linear_quant computes; others belong to algorithms of their own.
void check_method(const pipeline::QConfigSpec& spec, const std::string& path, bool act) {
  if (spec.scheme.is_float()) {
    SLIM_CHECK(spec.method == "none" || spec.method == "minmax", path,
               ".method: float (unquantized) ", act ? "activations" : "weights",
               " take method none, found ", quote(spec.method));
    return;
  }
  if (spec.method == "minmax") return;
  if (spec.method == "histogram" && act) {
    SLIM_CHECK(
        spec.scheme.dtype == quant::QDtype::Int8 && spec.scheme.scope == quant::QScope::PerTensor,
        path, ".method: histogram observes static int8 per_tensor activations, found ",
        spec.scheme.to_string());
    return;
  }
  SLIM_FAIL(path, ".method: ", quote(spec.method),
            " is not implemented in Slim yet (linear_quant computes minmax",
            act ? " or, for static int8 per_tensor activations, histogram" : "", ")");
}

}  // namespace

std::unique_ptr<Processor> make_linear_quant(const pipeline::ProcessorConfig& config) {
  const std::string& path = config.path;
  check_keys(config.node, path, {"type", "qconfig", "include", "exclude"});
  const std::string qpath = yaml_path(path, "qconfig");
  const YAML::Node qconfig = config.node["qconfig"];
  SLIM_CHECK(qconfig && !qconfig.IsNull(), qpath, ": required (act and weight QConfigs)",
             yaml_line(config.node));
  require_map(qconfig, qpath);
  check_keys(qconfig, qpath, {"act", "weight"});
  SLIM_CHECK(qconfig["weight"] && !qconfig["weight"].IsNull(), yaml_path(qpath, "weight"),
             ": required", yaml_line(qconfig));

  pipeline::QConfigSpec act_default;  // weight-only: float / per_tensor / sym (method none)
  pipeline::QConfigSpec act =
      qconfig["act"] && !qconfig["act"].IsNull()
          ? pipeline::parse_qconfig(qconfig["act"], yaml_path(qpath, "act"), act_default)
          : act_default;
  if (act.scheme.is_float() && !(qconfig["act"] && qconfig["act"]["method"])) act.method = "none";
  pipeline::QConfigSpec weight_default;
  weight_default.scheme.dtype = quant::QDtype::Int8;
  weight_default.scheme.scope = quant::QScope::PerChannel;
  const pipeline::QConfigSpec weight =
      pipeline::parse_qconfig(qconfig["weight"], yaml_path(qpath, "weight"), weight_default);
  check_method(act, yaml_path(qpath, "act"), true);
  check_method(weight, yaml_path(qpath, "weight"), false);

  quant::DeployedForm form;
  try {
    form = {quant::select_deployed_tag(act.scheme, weight.scheme), act.scheme, weight.scheme};
    quant::check_form(form);
  } catch (const Error& error) {
    SLIM_FAIL(qpath, ": activations ", act.scheme.to_string(), " with weights ",
              weight.scheme.to_string(), ": ", error.what());
  }
  ActObservation observation;
  observation.histogram = act.method == "histogram";
  if (act.ext && act.ext.IsMap()) {
    // The histogram's bins and search are fixed (msModelSlim exposes no key for them);
    // range_score_threshold is Slim's spelling of V0's act_method 3.
    const std::string ext_path = yaml_path(qpath, "act.ext");
    check_keys(act.ext, ext_path,
               {observation.histogram ? "range_score_threshold" : "aggregation_type"});
    observation.aggregation =
        quant::parse_aggregation(yaml_string(act.ext, "aggregation_type", ext_path, "max"));
    if (act.ext["range_score_threshold"]) {
      const double threshold = yaml_double(act.ext, "range_score_threshold", ext_path, 50.0);
      SLIM_CHECK(threshold > 0, ext_path,
                 ".range_score_threshold: expected a positive number, found ", threshold);
      observation.range_score_threshold = threshold;
    }
  }
  std::vector<std::string> include = yaml_string_list(config.node, "include", path, {"*"});
  std::vector<std::string> exclude = yaml_string_list(config.node, "exclude", path, {});
  for (const auto* patterns : {&include, &exclude}) {
    for (const auto& pattern : *patterns)
      expand_braces(pattern);  // syntax errors now, not at the first layer
  }
  return std::make_unique<LinearQuant>(path, form, observation, std::move(include),
                                       std::move(exclude));
}

}  // namespace slim::algo
