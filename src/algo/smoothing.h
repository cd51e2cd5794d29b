// The machinery the outlier-suppression processors share (spec msmodelslim-v1.md §5.6): the
// smoothing subgraphs of a layer (from the family's role table), the per-channel statistics of
// their inputs, the GQA grouping of `ov` scales, and the equivalent transform itself (targets'
// input columns multiplied by s, the source divided by s). Each algorithm (smooth_quant,
// iter_smooth, flex_smooth_quant) only says how s is computed.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "algo/processors.h"
#include "slim/model/family.h"

namespace slim::algo::smoothing {

// One smoothing subgraph of a decoder layer, resolved to its modules.
struct Subgraph {
  model::SubgraphType type;
  std::string source;                      // module name: a norm (norm-linear) or a linear
  std::string norm_role;                   // norm-linear: the source norm's role
  model::Linear* source_linear = nullptr;  // linear-linear, ov, up-down
  std::vector<model::Linear*> targets;     // their input columns are scaled; [0] is observed
  bool ov_group_max = false;               // the family groups this ov's scales by maxima
};

// Which subgraphs a processor smooths: the kinds it enables (`enable_subgraph_type`) and module
// patterns (`include` / `exclude`). A subgraph is smoothed when one of its modules (source or a
// target) matches include and none matches exclude.
struct Selection {
  std::set<model::SubgraphType> types;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
};

// Every subgraph kind, in msModelSlim's spelling order.
extern const std::vector<model::SubgraphType> kEverySubgraphType;

// Config values shared by the smoothing processors, each refused naming its path when out of
// range: a number in [0, 1] (`alpha`, absent: `fallback`), and `search_tokens` (> 0, 1024).
double unit_interval(const pipeline::ProcessorConfig& config, const char* key, double fallback);
int64_t search_tokens(const pipeline::ProcessorConfig& config);
// `symmetric` (true by default): false asks for asymmetric smoothing of the norm-linear
// subgraphs (a channel shift folded into the norm's bias and the targets' biases).
bool parse_symmetric(const pipeline::ProcessorConfig& config);

// Reads `enable_subgraph_type` (a list of msModelSlim's spellings; `allowed` lists the kinds the
// algorithm handles, all of them by default), `include` and `exclude` of a processor config.
Selection parse_selection(const pipeline::ProcessorConfig& config,
                          const std::vector<model::SubgraphType>& allowed, bool types_key = true);

// The selected subgraphs of `layer`, in msModelSlim's processing order: up-down, ov,
// linear-linear, norm-linear (a source's weight statistic is then taken after the transforms
// that rescale it).
std::vector<Subgraph> layer_subgraphs(const io::ModelConfig& config, model::DecoderLayer& layer,
                                      const Selection& selection);
// Whether `module` (a linear's name) is a source or target of a subgraph kind in `selection`:
// what `--dry_run` lists.
bool touches(const std::string& module, const Selection& selection);

// Per-channel statistics of the inputs of one linear over the calibration forward: max |x|,
// min, max, mean |x| (in fp32), and (when asked) up to a budget of input rows kept for a search.
class ChannelStatistics : public model::LinearHook {
 public:
  // `keep_rows`: rows kept per forward call (evenly spaced over the call's tokens); 0 keeps none.
  explicit ChannelStatistics(int64_t keep_rows = 0) : keep_rows_(keep_rows) {}
  void observe(const model::Linear& linear, const at::Tensor& input,
               const at::Tensor& output) override;

  int64_t tokens() const { return tokens_; }
  const at::Tensor& absmax() const { return absmax_; }  // [C]
  const at::Tensor& min() const { return min_; }
  const at::Tensor& max() const { return max_; }
  at::Tensor absmean() const;  // [C]
  // The kept rows [n, C] (fp32); undefined when none were kept.
  at::Tensor rows() const;

 private:
  int64_t keep_rows_;
  int64_t tokens_ = 0;
  at::Tensor absmax_, min_, max_, abs_sum_;
  std::vector<at::Tensor> rows_;
};

// max over the targets' rows of |W[o, c]| per input channel c (≥ 1e-5): the weight statistic.
at::Tensor weight_absmax(const Subgraph& subgraph);
// The targets' weights stacked along the output dim, [Σ out, C].
at::Tensor stacked_weight(const Subgraph& subgraph);

// How `ov` scales meet GQA (several q-heads reading one KV head): `Mean` computes the scales per
// q-head channel and averages the q-heads of each KV group; `Max` takes the group maxima of the
// activation and weight statistics first. Either way o_proj's columns of one KV group share v's
// scale, so the transform stays exact.
enum class OvGrouping { Mean, Max };
// The family's choice for the subgraph (SubgraphSpec::ov_group_max), Mean by default.
inline OvGrouping family_grouping(const Subgraph& subgraph) {
  return subgraph.ov_group_max ? OvGrouping::Max : OvGrouping::Mean;
}

// The smoothing scales of a subgraph per target input channel, from activation and weight
// statistics `a`, `w` ([C]): `formula(a, w)` (which may broadcast to [K, C] for K candidates),
// grouped for `ov` as above. Channels no calibration token activated (a = 0) keep scale 1.
using ScaleFormula = std::function<at::Tensor(const at::Tensor& a, const at::Tensor& w)>;
at::Tensor subgraph_scales(const io::ModelConfig& config, const Subgraph& subgraph,
                           const at::Tensor& a, const at::Tensor& w, OvGrouping grouping,
                           const ScaleFormula& formula);

// Symmetric int8 fake quantization per row (the last dim), scale = max|row| / 127.
at::Tensor fake_quant_rows(const at::Tensor& x);

// The search processors score K candidate scale vectors (the rows of `candidates`, [K, C]) as
// batched products. `loss` scores a chunk of them ([n, C] → [n]); the chunks are sized so that
// each holds about 32 MB of the candidates' tensors (`per_candidate_bytes` each), which bounds the
// temporaries whatever K and the layer's size. Returns the [K] losses in order.
at::Tensor over_candidate_chunks(const at::Tensor& candidates, int64_t per_candidate_bytes,
                                 const std::function<at::Tensor(const at::Tensor&)>& loss);
// Flex Smooth's objective for K candidate scale vectors `scales` [K, C] at once: the normalized
// int8 reconstruction error of x [N, C] through weight [O, C],
//   sqrt(mean((Q_row(x/s)·Q_row(weight·s)ᵀ - x·weightᵀ)²)) / sqrt(mean((x·weightᵀ)²)),
// as a [K] double tensor. Candidates are batched into products of bounded memory.
at::Tensor reconstruction_errors(const at::Tensor& x, const at::Tensor& weight,
                                 const at::Tensor& scales);

// SmoothQuant's balance, shared by smooth_quant and iter_smooth:
//   s = clamp(max|X|^α / w^(1−α), min scale_min), grouped for ov as the family says;
// `centered` (asymmetric smoothing) takes max|X − shift| = (max − min)/2 for max|X|.
at::Tensor balanced_scales(const io::ModelConfig& config, const Subgraph& subgraph,
                           const ChannelStatistics& stats, double alpha, double scale_min,
                           bool centered = false);

// The shift of asymmetric smoothing, per channel: the middle of the observed range,
// (max + min)/2.
at::Tensor channel_shift(const ChannelStatistics& stats);
// Asymmetric smoothing of a norm-linear subgraph (Outlier Suppression+): the norm's outputs are
// shifted by −shift, exactly: the norm's bias −= shift (a bias is added when it has none), each
// target's bias += W·shift (its weight before scaling). apply_scales then divides the norm's
// weight and bias by s once.
void apply_shift(model::DecoderLayer& layer, const Subgraph& subgraph, const at::Tensor& shift);

// The equivalent transform: every target's input column c multiplied by scales[c], the source
// (norm weight, or the source linear's output rows and bias) divided by the matching scale.
void apply_scales(const io::ModelConfig& config, model::DecoderLayer& layer,
                  const Subgraph& subgraph, const at::Tensor& scales);

// The common processor: observes targets[0] of every selected subgraph during its calibration
// forward, then transforms the subgraphs in processing order with the scales `compute` gives.
class SmoothingProcessor : public Processor {
 public:
  // `symmetric` false: the norm-linear subgraphs are smoothed asymmetrically (apply_shift first;
  // compute() should then balance the centered statistics, see centered()).
  SmoothingProcessor(std::string path, Selection selection, int64_t keep_rows = 0,
                     bool symmetric = true)
      : path_(std::move(path)),
        selection_(std::move(selection)),
        keep_rows_(keep_rows),
        symmetric_(symmetric) {}

  bool is_data_free() const override { return false; }
  std::vector<quant::DeployedForm> forms() const override { return {}; }
  void describe(LinearPlan& plan) const override;
  void preprocess(const RunContext& run, LayerUnit& unit) override;
  void postprocess(const RunContext& run, LayerUnit& unit) override;
  void post_run(const RunContext& run) override;

 protected:
  // The scales of one subgraph per target input channel ([C], positive, finite).
  virtual at::Tensor compute(const RunContext& run, const Subgraph& subgraph,
                             const ChannelStatistics& stats) = 0;
  const std::string& path() const { return path_; }
  // Whether the subgraph is shifted before it is scaled (asymmetric, norm-linear).
  bool centered(const Subgraph& subgraph) const {
    return !symmetric_ && subgraph.type == model::SubgraphType::NormLinear;
  }

 private:
  std::string path_;
  Selection selection_;
  int64_t keep_rows_;
  bool symmetric_;
  std::vector<Subgraph> subgraphs_;
  std::vector<std::pair<model::HookHandle, std::shared_ptr<ChannelStatistics>>> observed_;
  // Every float linear's input range in the same forward, handed on (LayerUnit::input_ranges).
  struct ObservedRange {
    std::string linear;
    model::HookHandle handle;
    std::shared_ptr<model::LinearHook> hook;  // an InputRange (smoothing.cpp)
  };
  std::vector<ObservedRange> ranges_;
  std::set<std::string> matched_patterns_;
  int64_t unreached_ = 0;
};

}  // namespace slim::algo::smoothing
