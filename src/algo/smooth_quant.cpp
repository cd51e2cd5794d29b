// `smooth_quant` (spec msmodelslim-v1.md §2.4, §5.6; V0 anti_method m1): SmoothQuant on the
// norm-linear subgraphs. Per input channel c of the linears a norm feeds,
//   s_c = clamp(max|X_c|^α / max_o|W_o,c|^(1-α), min 1e-5),   α = 0.5 by default,
// the linears' columns are multiplied by s and the norm weight divided by it: an exact transform
// of the float model that moves activation outliers into the weights.
#include <ATen/ATen.h>

#include "algo/smoothing.h"
#include "slim/core/error.h"
#include "slim/core/yaml_fields.h"

namespace slim::algo {

namespace {

class SmoothQuant : public smoothing::SmoothingProcessor {
 public:
  SmoothQuant(std::string path, smoothing::Selection selection, double alpha, bool symmetric)
      : SmoothingProcessor(std::move(path), std::move(selection), 0, symmetric), alpha_(alpha) {}
  std::string type() const override { return "smooth_quant"; }

 protected:
  at::Tensor compute(const RunContext& run, const smoothing::Subgraph& subgraph,
                     const smoothing::ChannelStatistics& stats) override {
    return smoothing::balanced_scales(*run.config, subgraph, stats, alpha_, 1e-5,
                                      centered(subgraph));
  }

 private:
  double alpha_;
};

}  // namespace

std::unique_ptr<Processor> make_smooth_quant(const pipeline::ProcessorConfig& config) {
  check_keys(config.node, config.path, {"type", "alpha", "symmetric", "include", "exclude"});
  const double alpha = smoothing::unit_interval(config, "alpha", 0.5);
  return std::make_unique<SmoothQuant>(
      config.path,
      smoothing::parse_selection(config, {model::SubgraphType::NormLinear}, /*types_key=*/false),
      alpha, smoothing::parse_symmetric(config));
}

}  // namespace slim::algo
