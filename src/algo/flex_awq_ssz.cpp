// `flex_awq_ssz` (spec msmodelslim-v1.md §2.4, §5.6): Flex Smooth with β = 0 whose α is searched
// against the quantization that will really be applied: its `qconfig` (activations and weights,
// as linear_quant's). For each α of {0, 0.05, ..., 1}, s = clamp(max|X|^α, min 1e-5) (ov scales
// grouped by maxima), the targets' weights W·s and the inputs X/s are fake-quantized with the
// qconfig's schemes, and the candidate with the lowest normalized error of the outputs against
// X·Wᵀ wins; a given `alpha` is used as it is. When a norm feeds more than three linears (MoE),
// the search uses the first two, as msModelSlim does. Every candidate is evaluated in batched
// products.
//
// msModelSlim searches with max|X| but applies mean|X|^α (spec §13.8); Slim applies the
// statistic it searched with (docs/algorithms.md). Weight method `ssz` is refused until SSZ
// lands: the search uses min/max weights.
#include <ATen/ATen.h>

#include <optional>

#include "algo/smoothing.h"
#include "slim/core/error.h"
#include "slim/core/yaml_fields.h"
#include "slim/quant/observer.h"

namespace slim::algo {

namespace {

constexpr int kGridPoints = 21;

class FlexAwqSsz : public smoothing::SmoothingProcessor {
 public:
  FlexAwqSsz(std::string path, smoothing::Selection selection, std::optional<double> alpha,
             quant::QScheme act, quant::QScheme weight, int64_t search_tokens)
      : SmoothingProcessor(std::move(path), std::move(selection), alpha ? 0 : search_tokens),
        alpha_(alpha),
        act_(act),
        weight_(weight) {}
  std::string type() const override { return "flex_awq_ssz"; }

 protected:
  at::Tensor compute(const RunContext& run, const smoothing::Subgraph& subgraph,
                     const smoothing::ChannelStatistics& stats) override {
    const at::Tensor alphas =
        alpha_ ? at::full({1}, *alpha_, at::kDouble) : at::linspace(0, 1, kGridPoints, at::kDouble);
    const at::Tensor candidates = smoothing::subgraph_scales(
        *run.config, subgraph, stats.absmax(), smoothing::weight_absmax(subgraph),
        smoothing::OvGrouping::Max, [&alphas](const at::Tensor& a, const at::Tensor&) {
          return a.unsqueeze(0).pow(alphas.to(a.options()).unsqueeze(1)).clamp_min(1e-5);
        });
    if (alpha_) return candidates[0];
    const at::Tensor err = errors(run, subgraph, stats.rows(), candidates);
    // The last minimum: ties to the larger α, as flex_smooth_quant.
    const auto values = err.contiguous();
    int64_t best = 0;
    for (int64_t i = 0; i < values.numel(); ++i)
      if (values[i].item<double>() <= values[best].item<double>()) best = i;
    return candidates[best];
  }

 private:
  // Normalized output error of each candidate with the qconfig's fake quantization: [K].
  at::Tensor errors(const RunContext& run, const smoothing::Subgraph& subgraph, const at::Tensor& x,
                    const at::Tensor& candidates) const {
    smoothing::Subgraph searched = subgraph;
    if (searched.targets.size() > 3) searched.targets.resize(2);
    const at::Tensor weight = smoothing::stacked_weight(searched);
    const at::Tensor reference = at::matmul(x, weight.t());
    const double norm = std::max(reference.pow(2).mean().sqrt().item<double>(), 1e-30);
    const int64_t per_candidate = (x.numel() + weight.numel() + 2 * reference.numel()) * 4;
    const int64_t out = weight.size(0), in = weight.size(1);
    return smoothing::over_candidate_chunks(candidates, per_candidate, [&](const at::Tensor& c) {
      const int64_t n = c.size(0);
      const at::Tensor s = c.to(at::kFloat).unsqueeze(1);  // [n, 1, C]
      const at::Tensor w = quant::fake_quantize_weight(
          path(), (weight.unsqueeze(0) * s).reshape({n * out, in}), weight_, run.numerics);
      const at::Tensor xq = fake_quantize_act(x.unsqueeze(0) / s, run.numerics);
      const at::Tensor y = at::bmm(xq, w.reshape({n, out, in}).transpose(1, 2));
      return (y - reference.unsqueeze(0)).pow(2).mean({1, 2}, false, at::kDouble).sqrt() / norm;
    });
  }

  // Activations [n, N, C] as the qconfig quantizes them: per token (dynamic), or per tensor with
  // each candidate's own range (static, the range a calibration of X/s would observe).
  at::Tensor fake_quantize_act(const at::Tensor& x, quant::Numerics numerics) const {
    if (act_.is_float()) return x;
    quant::MinMax range;
    if (act_.scope == quant::QScope::PerToken) {
      range = quant::act_minmax_per_token(path(), x);
    } else {
      range.min = x.amin({1, 2}, /*keepdim=*/true);
      range.max = x.amax({1, 2}, /*keepdim=*/true);
    }
    const quant::QParams params =
        quant::calculate_qparam(path(), range.min, range.max, act_, numerics);
    return quant::fake_quantize(path(), x, params);
  }

  std::optional<double> alpha_;
  quant::QScheme act_;
  quant::QScheme weight_;
};

}  // namespace

std::unique_ptr<Processor> make_flex_awq_ssz(const pipeline::ProcessorConfig& config) {
  check_keys(config.node, config.path,
             {"type", "alpha", "beta", "qconfig", "enable_subgraph_type", "include", "exclude",
              "search_tokens"});
  const YAML::Node beta = config.node["beta"];
  SLIM_CHECK(!beta || beta.IsNull() || smoothing::unit_interval(config, "beta", 0) == 0,
             yaml_path(config.path, "beta"), ": flex_awq_ssz fixes beta at 0", yaml_line(beta));
  std::optional<double> alpha;
  if (config.node["alpha"] && !config.node["alpha"].IsNull())
    alpha = smoothing::unit_interval(config, "alpha", 0);
  const std::string qpath = yaml_path(config.path, "qconfig");
  const YAML::Node qconfig = config.node["qconfig"];
  SLIM_CHECK(qconfig && !qconfig.IsNull(), qpath,
             ": required (the act and weight QConfigs the scales are searched for)",
             yaml_line(config.node));
  require_map(qconfig, qpath);
  check_keys(qconfig, qpath, {"act", "weight"});
  pipeline::QConfigSpec act_default;
  act_default.method = "none";
  const pipeline::QConfigSpec act =
      qconfig["act"] && !qconfig["act"].IsNull()
          ? pipeline::parse_qconfig(qconfig["act"], yaml_path(qpath, "act"), act_default)
          : act_default;
  pipeline::QConfigSpec weight_default;
  weight_default.scheme.dtype = quant::QDtype::Int8;
  weight_default.scheme.scope = quant::QScope::PerChannel;
  SLIM_CHECK(qconfig["weight"] && !qconfig["weight"].IsNull(), yaml_path(qpath, "weight"),
             ": required", yaml_line(qconfig));
  const pipeline::QConfigSpec weight =
      pipeline::parse_qconfig(qconfig["weight"], yaml_path(qpath, "weight"), weight_default);
  SLIM_CHECK(weight.method == "minmax", yaml_path(qpath, "weight.method"), ": ",
             quote(weight.method),
             " is not implemented in Slim yet; the search quantizes weights by minmax");
  SLIM_CHECK(
      quant::is_integer(weight.scheme.dtype) && (weight.scheme.scope == quant::QScope::PerChannel ||
                                                 weight.scheme.scope == quant::QScope::PerGroup),
      yaml_path(qpath, "weight"), ": integer per_channel or per_group weights, found ",
      weight.scheme.to_string());
  SLIM_CHECK(act.scheme.is_float() || (quant::is_integer(act.scheme.dtype) &&
                                       (act.scheme.scope == quant::QScope::PerToken ||
                                        act.scheme.scope == quant::QScope::PerTensor)),
             yaml_path(qpath, "act"),
             ": float, or integer per_token or per_tensor activations, "
             "found ",
             act.scheme.to_string());
  return std::make_unique<FlexAwqSsz>(
      config.path, smoothing::parse_selection(config, smoothing::kEverySubgraphType), alpha,
      act.scheme, weight.scheme, smoothing::search_tokens(config));
}

}  // namespace slim::algo
