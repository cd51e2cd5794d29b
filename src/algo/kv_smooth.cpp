// `kv_smooth` (spec msmodelslim-v1.md §2.4, §5.7): smooths the key states (what a KV-cache int8
// quantization sees) by moving their per-channel range into the queries, exactly: q·k is
// unchanged when key channel c is divided by t_c and query channel c multiplied by it.
//
// The key states are observed after the rotary embedding (as the cache stores them): per KV head
// and channel, k = max(|min|, |max|) over every token of every sample. Rotary embedding rotates
// channel pairs (i, i + D/2) together, so a pair must share one factor: t = max of the pair's
// k, raised to `smooth_factor`. Then, by the family's attention (its role table):
//   state-rope-linear (no per-head q/k norms: Llama, Mistral, Qwen2, Mixtral, Qwen2-MoE):
//     k_proj's rows of head h (and bias) ÷ [t_h, t_h]; q_proj's rows of every q-head reading KV
//     head h (and bias) × the same;
//   state-rope-norm (per-head q/k norms shared by the heads: Qwen3, Qwen3-MoE):
//     t = max over the KV heads; k_norm's weight ÷ [t, t], q_norm's weight × [t, t].
#include <ATen/ATen.h>

#include <set>

#include "algo/processors.h"
#include "slim/core/error.h"
#include "slim/core/name_match.h"
#include "slim/core/yaml_fields.h"
#include "slim/model/family.h"
#include "slim/model/roles.h"

namespace slim::algo {

namespace {

// Running per-channel max |k| of the key states [B, Hkv, S, D]: [Hkv, D].
class KeyRange : public model::AttentionHook {
 public:
  void on_states(const model::DecoderLayer& layer, at::Tensor& q, at::Tensor& k,
                 at::Tensor& v) override {
    if (k.size(2) == 0) return;
    const at::Tensor magnitude = k.abs().to(at::kFloat).amax({0, 2});
    absmax = absmax.defined() ? at::maximum(absmax, magnitude) : magnitude;
  }
  at::Tensor absmax;
};

class KvSmooth : public Processor {
 public:
  KvSmooth(std::string path, double factor, std::vector<std::string> include,
           std::vector<std::string> exclude)
      : path_(std::move(path)),
        factor_(factor),
        include_(std::move(include)),
        exclude_(std::move(exclude)) {}

  std::string type() const override { return "kv_smooth"; }
  bool is_data_free() const override { return false; }
  std::vector<quant::DeployedForm> forms() const override { return {}; }
  void describe(LinearPlan& plan) const override {
    const auto named = model::role_of_name(plan.module + ".weight");
    if (!named) return;
    const std::string role = named->spec->role;
    if ((role == model::roles::kQ || role == model::roles::kK) && selected(plan.module))
      plan.processors.push_back(type());
  }

  void preprocess(const RunContext& run, LayerUnit& unit) override {
    const model::Linear& key = unit.layer->linear(model::roles::kK);
    active_ = selected(key.name());
    if (active_) matched_.insert(key.name());
    if (!active_) return;
    hook_ = std::make_shared<KeyRange>();
    handle_ = unit.layer->add_attention_hook(hook_);
  }

  void postprocess(const RunContext& run, LayerUnit& unit) override {
    if (!active_) return;
    unit.layer->remove_hook(handle_);
    const at::Tensor absmax = hook_->absmax;
    hook_.reset();
    if (!absmax.defined()) return;  // no calibration token (a data-free pass)
    const io::ModelConfig& config = *run.config;
    const int64_t kv_heads = absmax.size(0), head_dim = absmax.size(1);
    SLIM_CHECK(head_dim % 2 == 0, path_, ": head_dim ", head_dim,
               " is odd; rotary pairs need an even head_dim");
    // One factor per rotary pair; channels no token activated keep 1.
    at::Tensor pair = absmax.reshape({kv_heads, 2, head_dim / 2}).amax(1);
    pair = at::where(pair > 0, pair.pow(factor_), at::ones_like(pair));
    model::DecoderLayer& layer = *unit.layer;
    if (layer.has_norm(model::roles::kQNorm) && layer.has_norm(model::roles::kKNorm)) {
      const at::Tensor shared = pair.amax(0);
      const at::Tensor scale = at::cat({shared, shared});  // [D]
      scale_norm(layer, model::roles::kKNorm, 1 / scale);
      scale_norm(layer, model::roles::kQNorm, scale);
      return;
    }
    const at::Tensor per_head = at::cat({pair, pair}, 1);  // [Hkv, D]
    const int64_t ratio = config.num_attention_heads / kv_heads;
    scale_rows(layer.linear(model::roles::kK), 1 / per_head.reshape(-1));
    scale_rows(layer.linear(model::roles::kQ), per_head.repeat_interleave(ratio, 0).reshape(-1));
  }

  void post_run(const RunContext& run) override {
    for (const auto* patterns : {&include_, &exclude_}) {
      for (const auto& pattern : *patterns) {
        bool used = false;
        for (const auto& name : matched_)
          used = used || name_matches(name, pattern);
        if (!used && pattern != "*" && patterns == &include_)
          run.warn(path_ + ": pattern " + quote(pattern) + " (include) matched no attention");
      }
    }
  }

 private:
  bool selected(const std::string& key_proj) const {
    return name_matches_any(key_proj, include_) && !name_matches_any(key_proj, exclude_);
  }
  void scale_rows(model::Linear& linear, const at::Tensor& scale) const {
    SLIM_CHECK(linear.has_float_weight(), path_, ": linear ", linear.name(),
               " is already quantized; kv_smooth transforms float weights (run it before "
               "linear_quant)");
    const at::Tensor rows = scale.to(linear.weight().options());
    linear.set_weight(linear.weight() * rows.unsqueeze(1));
    if (linear.bias()) linear.set_bias(*linear.bias() * rows.to(linear.bias()->options()));
  }
  static void scale_norm(model::DecoderLayer& layer, const char* role, const at::Tensor& scale) {
    const at::Tensor& weight = layer.norm(role);
    layer.set_norm(role, weight * scale.to(weight.options()));
  }

  std::string path_;
  double factor_;
  std::vector<std::string> include_;
  std::vector<std::string> exclude_;
  bool active_ = false;
  std::shared_ptr<KeyRange> hook_;
  model::HookHandle handle_;
  std::set<std::string> matched_;
};

}  // namespace

std::unique_ptr<Processor> make_kv_smooth(const pipeline::ProcessorConfig& config) {
  check_keys(config.node, config.path, {"type", "smooth_factor", "include", "exclude"});
  const double factor = yaml_double(config.node, "smooth_factor", config.path, 1.0);
  SLIM_CHECK(factor > 0, yaml_path(config.path, "smooth_factor"), ": must be > 0, found ", factor,
             yaml_line(config.node["smooth_factor"]));
  std::vector<std::string> include = yaml_string_list(config.node, "include", config.path, {"*"});
  if (include.empty()) include = {"*"};
  std::vector<std::string> exclude = yaml_string_list(config.node, "exclude", config.path, {});
  for (const auto* patterns : {&include, &exclude}) {
    for (const auto& pattern : *patterns)
      expand_braces(pattern);
  }
  return std::make_unique<KvSmooth>(config.path, factor, std::move(include), std::move(exclude));
}

}  // namespace slim::algo
