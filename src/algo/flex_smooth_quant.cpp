// `flex_smooth_quant` (spec msmodelslim-v1.md §2.4, §5.6; V0 anti_method m6): Flex Smooth over
// the four subgraph kinds, with per-channel scales
//   s_c = clamp(max|X_c|^α · max_o|W_o,c|^(-β), min 1e-5)
// and α, β searched when the config leaves them null: phase 1 scans α ∈ {0, 0.05, ..., 1} with
// β = 1 - α (ties to the later α), phase 2 scans β with that α and keeps a β only when it does
// not raise the error. The error of a candidate is the int8 reconstruction error of the
// subgraph's output, sqrt(mean((Q_tok(X/s)·Q_row(W·s)ᵀ - X·Wᵀ)²)) / sqrt(mean((X·Wᵀ)²)), with
// symmetric int8 per row on both sides, over the observed inputs of the first target and the
// concatenated weights of all of them. All candidates of a phase are evaluated as one batched
// product (in chunks that bound the memory), not one by one.
//
// msModelSlim keeps every calibration token for the search; Slim keeps `search_tokens` of them
// (default 1024, spread evenly over the samples): the grid search is then bounded on large
// calibration sets (docs/algorithms.md). A value given for α or β is kept; only a null one is
// searched.
#include <ATen/ATen.h>

#include <limits>
#include <optional>

#include "algo/smoothing.h"
#include "slim/core/error.h"
#include "slim/core/yaml_fields.h"

namespace slim::algo {

namespace {

constexpr int kGridPoints = 21;  // 0, 0.05, ..., 1

class FlexSmoothQuant : public smoothing::SmoothingProcessor {
 public:
  FlexSmoothQuant(std::string path, smoothing::Selection selection, std::optional<double> alpha,
                  std::optional<double> beta, int64_t search_tokens)
      : SmoothingProcessor(std::move(path), std::move(selection),
                           alpha && beta ? 0 : search_tokens),
        alpha_(alpha),
        beta_(beta) {}
  std::string type() const override { return "flex_smooth_quant"; }

 protected:
  at::Tensor compute(const RunContext& run, const smoothing::Subgraph& subgraph,
                     const smoothing::ChannelStatistics& stats) override {
    const at::Tensor a = stats.absmax();
    const at::Tensor w = smoothing::weight_absmax(subgraph);
    double alpha = alpha_.value_or(0.5);
    double beta = beta_.value_or(1 - alpha);
    if (!alpha_ || !beta_) search(run, subgraph, stats, a, w, alpha, beta);
    return scales(run, subgraph, a, w, at::full({1}, alpha), at::full({1}, beta)).squeeze(0);
  }

 private:
  // The scales of K candidates (α, β as [K] tensors): [K, C].
  at::Tensor scales(const RunContext& run, const smoothing::Subgraph& subgraph, const at::Tensor& a,
                    const at::Tensor& w, const at::Tensor& alpha, const at::Tensor& beta) const {
    return smoothing::subgraph_scales(
        *run.config, subgraph, a, w, smoothing::family_grouping(subgraph),
        [&alpha, &beta](const at::Tensor& act, const at::Tensor& weight) {
          const at::Tensor al = alpha.to(act.options()).unsqueeze(1);
          const at::Tensor be = beta.to(act.options()).unsqueeze(1);
          return (act.unsqueeze(0).pow(al) * weight.unsqueeze(0).pow(-be)).clamp_min(1e-5);
        });
  }

  void search(const RunContext& run, const smoothing::Subgraph& subgraph,
              const smoothing::ChannelStatistics& stats, const at::Tensor& a, const at::Tensor& w,
              double& alpha, double& beta) const {
    const at::Tensor x = stats.rows();
    const at::Tensor weight = smoothing::stacked_weight(subgraph);
    const at::Tensor grid = at::linspace(0, 1, kGridPoints, at::kDouble);
    auto pick = [](const at::Tensor& err, double bound, int64_t& best) {
      // The last minimum (ties to the later grid point), accepted when within `bound`.
      const auto values = err.to(at::kDouble).contiguous();
      const double* e = values.data_ptr<double>();
      double best_err = bound;
      best = -1;
      for (int64_t i = 0; i < values.numel(); ++i) {
        if (e[i] <= best_err) {
          best_err = e[i];
          best = i;
        }
      }
      return best_err;
    };
    double best_err;
    if (!alpha_) {
      const at::Tensor betas = beta_ ? at::full({kGridPoints}, *beta_, at::kDouble) : 1 - grid;
      int64_t best = -1;
      best_err = pick(
          smoothing::reconstruction_errors(x, weight, scales(run, subgraph, a, w, grid, betas)),
          std::numeric_limits<double>::infinity(), best);
      alpha = grid[best].item<double>();
      beta = betas[best].item<double>();
    } else {
      best_err = smoothing::reconstruction_errors(
                     x, weight,
                     scales(run, subgraph, a, w, at::full({1}, alpha, at::kDouble),
                            at::full({1}, beta, at::kDouble)))[0]
                     .item<double>();
    }
    if (!beta_) {
      int64_t best = -1;
      pick(smoothing::reconstruction_errors(
               x, weight,
               scales(run, subgraph, a, w, at::full({kGridPoints}, alpha, at::kDouble), grid)),
           best_err, best);
      if (best >= 0) beta = grid[best].item<double>();
    }
  }

  std::optional<double> alpha_;
  std::optional<double> beta_;
};

// null (or absent): searched.
std::optional<double> searched_or(const pipeline::ProcessorConfig& config, const char* key) {
  const YAML::Node node = config.node[key];
  if (!node || node.IsNull()) return std::nullopt;
  return smoothing::unit_interval(config, key, 0);
}

}  // namespace

std::unique_ptr<Processor> make_flex_smooth_quant(const pipeline::ProcessorConfig& config) {
  check_keys(
      config.node, config.path,
      {"type", "alpha", "beta", "enable_subgraph_type", "include", "exclude", "search_tokens"});
  return std::make_unique<FlexSmoothQuant>(
      config.path, smoothing::parse_selection(config, smoothing::kEverySubgraphType),
      searched_or(config, "alpha"), searched_or(config, "beta"), smoothing::search_tokens(config));
}

}  // namespace slim::algo
