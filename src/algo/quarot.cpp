// `quarot` (spec msmodelslim-v1.md §5.11): rotates the residual stream of the whole model by a
// random Hadamard matrix Q (orthogonal: x·Q has the same norm and spreads an outlier channel over
// every channel), and each attention head's values by another, so that the activations the
// quantized linears see have no outlier channels. Every transform is exact on the float model:
//
//   1. each RMSNorm's weight γ is fused into the linears that read it (W ← W·diag(γ), γ ← 1): a
//      weightless RMSNorm commutes with an orthogonal Q (rms(x·Q) = rms(x));
//   2. the residual stream is rotated: the embedding and every linear reading the stream
//      (the norm-linear targets of the family's role table: q/k/v, gate/up, routers, experts)
//      right-rotated, W ← W·Q; every linear writing it (o_proj, down_proj, experts' down)
//      left-rotated, W ← Qᵀ·W, b ← Qᵀ·b; the final norm fused into the lm_head, right-rotated;
//   3. per head, v_proj's rows left-rotated and o_proj's columns right-rotated by Q_h (head_dim).
//
// The embedding, final norm and lm_head are transformed in pre_run (algo::GlobalTensors), so the
// calibration samples of the later processors are embedded in the rotated basis; each layer is
// rotated in preprocess, before any processor calibrates it. A tied lm_head becomes its own
// tensor (E·diag(γ)·Q differs from the embedding E·Q), and the output says so.
//
// Keys: `block_size` (-1: Q over the whole hidden size; b > 0: Q is block-diagonal, one b×b
// random Hadamard repeated), `export_extra_info` (true: Q written to optional/quarot.safetensors),
// `online`, `down_proj_online_layers` and `max_tp_size` (the online rotations of msModelSlim's
// Qwen3 adapter, which the inference engine must run at runtime: refused).
#include <ATen/ATen.h>

#include <set>

#include "algo/processors.h"
#include "slim/core/error.h"
#include "slim/core/yaml_fields.h"
#include "slim/model/family.h"
#include "slim/model/roles.h"
#include "slim/quant/hadamard.h"

namespace slim::algo {

namespace {

// The seeds of the rotations' random signs (msModelSlim seeds its generator with 1234).
constexpr uint64_t kResidualSeed = 1234;
constexpr uint64_t kHeadSeed = 1235;

// A block-diagonal orthogonal matrix diag(B, ..., B) of order n (B of order b, b divides n), and
// its products with weights without forming it.
class BlockRotation {
 public:
  BlockRotation() = default;
  BlockRotation(at::Tensor block, int64_t n) : block_(std::move(block)), n_(n) {}

  int64_t size() const { return n_; }
  // W·Q over the last dim of W (its input channels), W [..., n].
  at::Tensor right(const at::Tensor& weight) const {
    check(weight.size(-1), weight);
    const int64_t b = block_.size(0);
    const at::Tensor blocks = weight.reshape({-1, n_ / b, b});
    return at::matmul(blocks, block_.to(weight.options())).reshape(weight.sizes());
  }
  // Qᵀ·W over the first dim of W (its output rows), W [n, ...] (a bias [n] too).
  at::Tensor left(const at::Tensor& weight) const {
    check(weight.size(0), weight);
    const int64_t b = block_.size(0);
    const at::Tensor blocks = weight.reshape({n_ / b, b, -1});
    return at::matmul(block_.t().to(weight.options()), blocks).reshape(weight.sizes());
  }
  // The whole matrix (fp32 [n, n]).
  at::Tensor matrix() const {
    const int64_t b = block_.size(0);
    return at::kron(at::eye(n_ / b, block_.options()), block_).to(at::kFloat);
  }

 private:
  void check(int64_t dim, const at::Tensor& weight) const {
    SLIM_INTERNAL_ASSERT(dim == n_, "rotation of order ", n_, " applied to a tensor of shape ",
                         weight.sizes());
  }
  at::Tensor block_;  // fp64 [b, b]
  int64_t n_ = 0;
};

// The random Hadamard rotation of order `block` (fp64), refused naming `what` when Slim cannot
// build a Hadamard matrix of that order.
at::Tensor hadamard_block(int64_t block, uint64_t seed, const std::string& path,
                          const std::string& what) {
  SLIM_CHECK(quant::hadamard_shape(block).has_value(), path, ": ", what, " is ", block,
             ", for which Slim builds no Hadamard matrix (orders k·2^m with k = 1 or a Paley "
             "order: 12, 20, 28, 36, 44, 60, ...); set block_size to a power of two dividing it");
  return quant::random_hadamard_rotation(block, seed);
}

class Quarot : public Processor {
 public:
  Quarot(std::string path, int64_t block_size, bool export_extra_info)
      : path_(std::move(path)), block_size_(block_size), export_extra_info_(export_extra_info) {}

  std::string type() const override { return "quarot"; }
  bool is_data_free() const override { return true; }
  std::vector<quant::DeployedForm> forms() const override { return {}; }
  // Every linear of a decoder layer reads or writes the rotated stream (or a rotated head).
  void describe(LinearPlan& plan) const override { plan.processors.push_back(type()); }

  void pre_run(const RunContext& run) override {
    const io::ModelConfig& config = *run.config;
    SLIM_CHECK(run.globals, path_, ": quarot rotates the whole model; it runs in slim quant");
    residual_ = residual_rotation(config.hidden_size);
    head_block_ = hadamard_block(config.head_dim, kHeadSeed, path_, "head_dim");

    const model::GlobalTensorNames& names = model::global_tensor_names();
    GlobalTensors& globals = *run.globals;
    // The lm_head first: a tied one is the embedding as the checkpoint stores it.
    const at::Tensor gamma = globals.get(names.final_norm);
    globals.transform_rows(names.lm_head,
                           [&](const at::Tensor& rows) { return residual_.right(rows * gamma); });
    globals.set(names.final_norm, at::ones_like(gamma));
    globals.transform_rows(names.embedding,
                           [&](const at::Tensor& rows) { return residual_.right(rows); });
    if (export_extra_info_) globals.set_global_rotation(residual_.matrix());
  }

  void preprocess(const RunContext& run, LayerUnit& unit) override {
    model::DecoderLayer& layer = *unit.layer;
    const io::ModelConfig& config = *run.config;
    SLIM_CHECK(residual_.size() > 0, path_, ": layer ", layer.index, " reached before pre_run");
    for (model::Linear* linear : layer.linears()) {
      SLIM_CHECK(linear->has_float_weight(), path_, ": linear ", linear->name(),
                 " is already quantized; quarot rotates float weights (put it first in "
                 "spec.process)");
    }
    std::set<std::string> reading;
    for (const auto& subgraph : model::layer_subgraphs(config, layer.index)) {
      if (subgraph.type == "norm-linear") fuse_norm(layer, subgraph, reading);
    }
    for (model::Linear* linear : layer.linears()) {
      const auto named = model::role_of_name(linear->name() + ".weight");
      SLIM_INTERNAL_ASSERT(named.has_value(), "no role for ", linear->name());
      if (named->spec->in == model::Dim::Hidden) {
        SLIM_CHECK(reading.count(linear->name()), path_, ": linear ", linear->name(),
                   " reads the residual stream without a norm Slim can fuse; quarot cannot "
                   "rotate it exactly");
        linear->set_weight(residual_.right(linear->weight()));
      }
      if (named->spec->out == model::Dim::Hidden) {
        linear->set_weight(residual_.left(linear->weight()));
        if (linear->bias()) linear->set_bias(residual_.left(*linear->bias()));
      }
    }
    rotate_heads(config, layer);
  }

 private:
  BlockRotation residual_rotation(int64_t hidden) const {
    if (block_size_ <= 0) {
      return BlockRotation(hadamard_block(hidden, kResidualSeed, path_, "hidden_size"), hidden);
    }
    SLIM_CHECK(hidden % block_size_ == 0, yaml_path(path_, "block_size"), ": ", block_size_,
               " does not divide the model's hidden_size ", hidden);
    return BlockRotation(hadamard_block(block_size_, kResidualSeed, path_, "block_size"), hidden);
  }

  // W ← W·diag(γ) for every linear the norm feeds, then γ ← 1.
  static void fuse_norm(model::DecoderLayer& layer, const model::Subgraph& subgraph,
                        std::set<std::string>& reading) {
    const model::LayerNorm* norm = nullptr;
    for (const auto& candidate : layer.norms())
      if (candidate.name == subgraph.source) norm = &candidate;
    SLIM_INTERNAL_ASSERT(norm != nullptr, "no norm ", subgraph.source, " in layer ", layer.index);
    SLIM_CHECK(!norm->bias, "quarot: norm ", norm->name,
               " has a bias (asymmetric smoothing); a shifted norm does not commute with the "
               "rotation: run quarot first");
    const at::Tensor gamma = norm->weight;
    for (const auto& target : subgraph.targets) {
      model::Linear* linear = layer.linear_named(target);
      if (!linear) continue;  // a role this layer does not have (a dense layer of a MoE model)
      linear->set_weight(linear->weight() * gamma.to(linear->weight().options()));
      reading.insert(target);
    }
    const std::string role = norm->role;
    layer.set_norm(role, at::ones_like(gamma));
  }

  // Each head's values rotated by Q_h: v_proj's rows per KV head, o_proj's columns per q-head
  // (a q-head reads the values of its KV head, rotated alike).
  void rotate_heads(const io::ModelConfig& config, model::DecoderLayer& layer) const {
    model::Linear& v = layer.linear(model::roles::kV);
    model::Linear& o = layer.linear(model::roles::kO);
    const int64_t head_dim = config.head_dim;
    const BlockRotation values(head_block_, v.out_features());
    const BlockRotation outputs(head_block_, o.in_features());
    SLIM_INTERNAL_ASSERT(v.out_features() % head_dim == 0 && o.in_features() % head_dim == 0,
                         "heads of ", head_dim, " in ", v.name(), " / ", o.name());
    v.set_weight(values.left(v.weight()));
    if (v.bias()) v.set_bias(values.left(*v.bias()));
    o.set_weight(outputs.right(o.weight()));
  }
  std::string path_;
  int64_t block_size_;
  bool export_extra_info_;
  BlockRotation residual_;
  at::Tensor head_block_;  // Q_h, fp64 [head_dim, head_dim]
};

}  // namespace

std::unique_ptr<Processor> make_quarot(const pipeline::ProcessorConfig& config) {
  check_keys(config.node, config.path,
             {"type", "online", "block_size", "down_proj_online_layers", "max_tp_size",
              "export_extra_info"});
  const bool online = yaml_bool(config.node, "online", config.path, false);
  SLIM_CHECK(!online, yaml_path(config.path, "online"),
             ": true (msModelSlim's online rotations, which the inference engine applies to "
             "activations at runtime) is not supported; Slim fuses every rotation offline "
             "(online: false)",
             yaml_line(config.node["online"]));
  const YAML::Node layers = config.node["down_proj_online_layers"];
  if (layers.IsDefined() && !layers.IsNull()) {
    SLIM_CHECK(layers.IsSequence(), yaml_path(config.path, "down_proj_online_layers"),
               ": expected a list of layer indexes", yaml_line(layers));
    SLIM_CHECK(layers.size() == 0, yaml_path(config.path, "down_proj_online_layers"),
               ": online Kronecker rotations of down_proj run in the inference engine and are "
               "not supported; leave it empty",
               yaml_line(layers));
  }
  const int64_t tp = yaml_int(config.node, "max_tp_size", config.path, 4);
  SLIM_CHECK(tp > 0 && (tp & (tp - 1)) == 0, yaml_path(config.path, "max_tp_size"),
             ": must be a power of two, found ", tp, yaml_line(config.node["max_tp_size"]));
  const int64_t block_size = yaml_int(config.node, "block_size", config.path, -1);
  SLIM_CHECK(block_size == -1 || block_size > 0, yaml_path(config.path, "block_size"),
             ": expected -1 (the whole hidden size) or a positive block order, found ", block_size,
             yaml_line(config.node["block_size"]));
  if (block_size > 0) hadamard_block(block_size, kResidualSeed, config.path, "block_size");
  const bool export_extra_info = yaml_bool(config.node, "export_extra_info", config.path, true);
  return std::make_unique<Quarot>(config.path, block_size, export_extra_info);
}

}  // namespace slim::algo
