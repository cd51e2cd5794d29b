// `awq` (spec msmodelslim-v1.md §2.4, §5.6; V0 anti_method m3): activation-aware weight scaling
// for weight-only quantization. Per subgraph, with a = mean|X| per input channel of the first
// target and for each grid point r = g / n_grid (g = 0 .. n_grid-1),
//   s = clamp(a^r, min 1e-4),  s /= sqrt(max(s) · min(s)),
// the targets' weights are fake-quantized as W' = Q_w(W·s) / s with `weight_qconfig`, and the
// candidate whose outputs X·W'ᵀ are closest to the float X·Wᵀ (mean squared error over the kept
// calibration inputs) is applied as an exact transform (targets × s, source ÷ s). The
// quantization itself is left to the linear_quant that follows.
//
// msModelSlim compares the outputs of an "inspect module" (the attention or MLP block around
// the subgraph); Slim compares the subgraph's own outputs (the targets' concatenated outputs),
// the quantity the scaling changes, and evaluates every grid point in one batched product
// (docs/algorithms.md).
#include <ATen/ATen.h>

#include "algo/smoothing.h"
#include "slim/core/error.h"
#include "slim/core/yaml_fields.h"

namespace slim::algo {

namespace {

class Awq : public smoothing::SmoothingProcessor {
 public:
  Awq(std::string path, smoothing::Selection selection, quant::QScheme weight, int64_t n_grid,
      int64_t search_tokens)
      : SmoothingProcessor(std::move(path), std::move(selection), search_tokens),
        weight_(weight),
        n_grid_(n_grid) {}
  std::string type() const override { return "awq"; }

 protected:
  at::Tensor compute(const RunContext& run, const smoothing::Subgraph& subgraph,
                     const smoothing::ChannelStatistics& stats) override {
    check_groups(subgraph);
    const at::Tensor ratios = at::arange(n_grid_, at::kDouble) / static_cast<double>(n_grid_);
    const at::Tensor candidates = smoothing::subgraph_scales(
        *run.config, subgraph, stats.absmean(), smoothing::weight_absmax(subgraph),
        smoothing::family_grouping(subgraph), [&ratios](const at::Tensor& a, const at::Tensor&) {
          at::Tensor s = a.unsqueeze(0).pow(ratios.to(a.options()).unsqueeze(1)).clamp_min(1e-4);
          s = s / (s.amax(1, true) * s.amin(1, true)).sqrt();
          return at::where(at::isfinite(s), s, at::ones_like(s));
        });
    const at::Tensor losses = output_errors(run, subgraph, stats.rows(), candidates);
    return candidates[losses.argmin().item<int64_t>()];
  }

 private:
  // Per-group weights split every target's input dim into whole groups.
  void check_groups(const smoothing::Subgraph& subgraph) const {
    if (weight_.scope != quant::QScope::PerGroup) return;
    const int64_t in = subgraph.targets[0]->in_features();
    SLIM_CHECK(in % weight_.group_size == 0, path(), ".weight_qconfig: group_size ",
               weight_.group_size, " does not divide the input dim ", in, " of ",
               subgraph.targets[0]->name());
  }

  // The mean squared error of the subgraph's outputs with each candidate's fake-quantized
  // weights: [K], candidates batched in chunks of bounded memory.
  at::Tensor output_errors(const RunContext& run, const smoothing::Subgraph& subgraph,
                           const at::Tensor& x, const at::Tensor& candidates) const {
    const at::Tensor weight = smoothing::stacked_weight(subgraph);
    const at::Tensor reference = at::matmul(x, weight.t());
    const int64_t per_candidate = (weight.numel() + reference.numel()) * 4;
    const int64_t out = weight.size(0), in = weight.size(1);
    return smoothing::over_candidate_chunks(candidates, per_candidate, [&](const at::Tensor& c) {
      const int64_t n = c.size(0);
      const at::Tensor s = c.to(at::kFloat).unsqueeze(1);  // [n, 1, C]
      const at::Tensor scaled = (weight.unsqueeze(0) * s).reshape({n * out, in});
      const at::Tensor quantized =
          quant::fake_quantize_weight(path(), scaled, weight_, run.numerics).reshape({n, out, in}) /
          s;
      const at::Tensor y = at::matmul(x.unsqueeze(0), quantized.transpose(1, 2));  // [n, N, O]
      return (y - reference.unsqueeze(0)).pow(2).mean({1, 2}, false, at::kDouble);
    });
  }

  quant::QScheme weight_;
  int64_t n_grid_;
};

}  // namespace

std::unique_ptr<Processor> make_awq(const pipeline::ProcessorConfig& config) {
  check_keys(config.node, config.path,
             {"type", "weight_qconfig", "n_grid", "enable_subgraph_type", "include", "exclude",
              "search_tokens"});
  const std::string qpath = yaml_path(config.path, "weight_qconfig");
  const YAML::Node qconfig = config.node["weight_qconfig"];
  SLIM_CHECK(qconfig && !qconfig.IsNull(), qpath,
             ": required (the weight QConfig the scales are searched for)", yaml_line(config.node));
  pipeline::QConfigSpec fallback;
  fallback.scheme.dtype = quant::QDtype::Int4;
  fallback.scheme.scope = quant::QScope::PerChannel;
  const pipeline::QConfigSpec weight = pipeline::parse_qconfig(qconfig, qpath, fallback);
  SLIM_CHECK(
      quant::is_integer(weight.scheme.dtype) && (weight.scheme.scope == quant::QScope::PerChannel ||
                                                 weight.scheme.scope == quant::QScope::PerGroup),
      qpath, ": awq searches integer per_channel or per_group weights, found ",
      weight.scheme.to_string(), yaml_line(qconfig));
  const int64_t n_grid = yaml_int(config.node, "n_grid", config.path, 20);
  SLIM_CHECK(n_grid >= 1 && n_grid <= 1000, yaml_path(config.path, "n_grid"),
             ": must be in [1, 1000], found ", n_grid, yaml_line(config.node["n_grid"]));
  return std::make_unique<Awq>(config.path,
                               smoothing::parse_selection(config, smoothing::kEverySubgraphType),
                               weight.scheme, n_grid, smoothing::search_tokens(config));
}

}  // namespace slim::algo
