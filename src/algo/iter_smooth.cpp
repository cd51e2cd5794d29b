// `iter_smooth` (spec msmodelslim-v1.md §2.4, §5.6; V0 anti_method m4, and m2's stand-in):
// Iterative Smooth over the four subgraph kinds. Per input channel c of the subgraph's targets,
//   s_c = clamp(max|X_c|^α / max_o|W_o,c|^(1-α), min scale_min),   α = 0.9, scale_min = 1e-5,
// applied as an exact transform (targets' columns × s, source ÷ s). msModelSlim's V1 runs one
// pass (no iteration) and, for ov / up-down / linear-linear, takes the signed column maximum of
// the weight; Slim takes max |W| for every kind, the statistic the formula is defined on
// (docs/algorithms.md).
#include <ATen/ATen.h>

#include "algo/smoothing.h"
#include "slim/core/error.h"
#include "slim/core/yaml_fields.h"

namespace slim::algo {

namespace {

class IterSmooth : public smoothing::SmoothingProcessor {
 public:
  IterSmooth(std::string path, smoothing::Selection selection, double alpha, double scale_min,
             bool symmetric)
      : SmoothingProcessor(std::move(path), std::move(selection), 0, symmetric),
        alpha_(alpha),
        scale_min_(scale_min) {}
  std::string type() const override { return "iter_smooth"; }

 protected:
  at::Tensor compute(const RunContext& run, const smoothing::Subgraph& subgraph,
                     const smoothing::ChannelStatistics& stats) override {
    return smoothing::balanced_scales(*run.config, subgraph, stats, alpha_, scale_min_,
                                      centered(subgraph));
  }

 private:
  double alpha_;
  double scale_min_;
};

}  // namespace

std::unique_ptr<Processor> make_iter_smooth(const pipeline::ProcessorConfig& config) {
  check_keys(
      config.node, config.path,
      {"type", "alpha", "scale_min", "symmetric", "enable_subgraph_type", "include", "exclude"});
  const double alpha = smoothing::unit_interval(config, "alpha", 0.9);
  const double scale_min = yaml_double(config.node, "scale_min", config.path, 1e-5);
  SLIM_CHECK(scale_min > 0, yaml_path(config.path, "scale_min"), ": must be > 0, found ", scale_min,
             yaml_line(config.node["scale_min"]));
  return std::make_unique<IterSmooth>(
      config.path, smoothing::parse_selection(config, smoothing::kEverySubgraphType), alpha,
      scale_min, smoothing::parse_symmetric(config));
}

}  // namespace slim::algo
