// Decoder layers addressed by role and name, hooks (three stages, handles), attention hooks on the
// layer, and the mixture-of-experts feed-forward against a plain fp64 reference.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "slim/model/causal_lm.h"
#include "slim/model/deployed_computation.h"
#include "slim/model/random_model.h"
#include "slim/model/roles.h"
#include "slim/quant/deployed_forward.h"
#include "slim/quant/numerics.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using namespace slim::model;
using slim::testing::TempDir;

std::string write_model(const TempDir& dir, const std::string& arch,
                        RandomModelOptions options = {}) {
  options.architecture = arch;
  options.dtype = c10::kFloat;
  const std::string path = dir.file(arch);
  write_random_model(options, path);
  return path;
}

at::Tensor random_hidden(int64_t tokens, int64_t hidden, uint64_t seed) {
  at::manual_seed(seed);
  return at::randn({1, tokens, hidden}, at::kFloat);
}

TEST(DecoderLayer, AddressableByRoleAndNameWithEveryTensorEnumerated) {
  TempDir dir;
  RandomModelOptions options;
  options.num_experts = 3;
  const auto model = CausalLM::open(write_model(dir, "Qwen2MoeForCausalLM", options));
  DecoderLayer layer = model->load_layer(1);
  EXPECT_TRUE(layer.is_moe());
  EXPECT_EQ(layer.linear(roles::kQ).name(), "model.layers.1.self_attn.q_proj");
  EXPECT_EQ(layer.linear(roles::kExpertDown, 2).name(), "model.layers.1.mlp.experts.2.down_proj");
  EXPECT_EQ(layer.linear(roles::kExpertDown, 2).expert(), 2);
  EXPECT_EQ(layer.linear_named("model.layers.1.mlp.shared_expert_gate")->role(),
            roles::kSharedRouter);
  EXPECT_EQ(layer.linear_named("model.layers.1.mlp.gate_proj"), nullptr);
  EXPECT_ERROR_WITH(layer.linear(roles::kGate), "layer 1", "ffn_gate");
  EXPECT_ERROR_WITH(layer.linear(roles::kExpertUp, 3), "expert 3");
  EXPECT_ERROR_WITH(layer.norm(roles::kQNorm), "attn_q_norm");
  // 3 x 3 experts, router, 4 shared, q/k/v/o.
  EXPECT_EQ(layer.linears().size(), 9u + 1u + 4u + 4u);

  // tensors(): what a saver writes, as processors left it.
  layer.set_norm(roles::kFfnNorm, at::full({64}, 2.0f));
  EXPECT_ERROR_WITH(layer.set_norm(roles::kFfnNorm, at::ones({3})), "post_attention_layernorm");
  const auto tensors = layer.tensors();
  std::map<std::string, at::Tensor> by_name(tensors.begin(), tensors.end());
  EXPECT_EQ(by_name.size(), tensors.size());
  EXPECT_EQ(by_name.size(), 2u + 18u + 3u);  // norms, linear weights, q/k/v biases
  EXPECT_TRUE(at::equal(by_name.at("model.layers.1.post_attention_layernorm.weight"),
                        at::full({64}, 2.0f)));
  EXPECT_TRUE(
      at::equal(by_name.at("model.layers.1.mlp.experts.0.up_proj.weight"),
                model->source().float_tensor("model.layers.1.mlp.experts.0.up_proj.weight")));
  EXPECT_EQ(by_name.count("model.layers.1.self_attn.k_proj.bias"), 1u);
}

TEST(DecoderLayer, QuantizationReadsWeightsInTheCheckpointDtype) {
  TempDir dir;
  RandomModelOptions options;
  options.architecture = "Qwen2ForCausalLM";
  options.dtype = c10::kBFloat16;
  const std::string path = dir.file("bf16");
  write_random_model(options, path);
  const auto model = CausalLM::open(path);  // fp32 compute
  const DecoderLayer compute = model->load_layer(0);
  const DecoderLayer stored = model->load_layer(0, /*keep_stored_dtype=*/true);
  EXPECT_EQ(compute.linear(roles::kQ).weight().scalar_type(), at::kFloat);
  EXPECT_EQ(stored.linear(roles::kQ).weight().scalar_type(), at::kBFloat16);
  EXPECT_EQ(stored.linear(roles::kQ).bias()->scalar_type(), at::kBFloat16);
  EXPECT_EQ(stored.norm(roles::kAttnNorm).scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(stored.linear(roles::kDown).weight(),
                        model->source().float_tensor("model.layers.0.mlp.down_proj.weight")));
}

struct Scale : LinearHook {
  double factor;
  explicit Scale(double f) : factor(f) {}
  at::Tensor transform_input(const Linear&, const at::Tensor& x) override { return x * factor; }
};
struct Constant : LinearHook {
  double value;
  explicit Constant(double v) : value(v) {}
  std::optional<at::Tensor> replace(const Linear& linear, const at::Tensor& x) override {
    auto sizes = x.sizes().vec();
    sizes.back() = linear.out_features();
    return at::full(sizes, value, x.options());
  }
};
struct Recorder : LinearHook {
  std::vector<at::Tensor> inputs;
  void observe(const Linear&, const at::Tensor& input, const at::Tensor&) override {
    inputs.push_back(input);
  }
};

TEST(LinearHooks, StagesComposeAndHandlesRemoveExactlyTheirHook) {
  Linear linear("m.proj", at::eye(3), at::Tensor(at::zeros({3})), "attn_q");
  const at::Tensor x = at::tensor({1.0f, 2.0f, 3.0f}).view({1, 3});
  auto recorder = std::make_shared<Recorder>();
  const HookHandle observe = linear.add_hook(recorder);
  const HookHandle twice = linear.add_hook(std::make_shared<Scale>(2.0));
  const HookHandle thrice = linear.add_hook(std::make_shared<Scale>(3.0));
  // Input transforms compose in order; the observer sees the transformed input.
  EXPECT_TRUE(at::allclose(linear.forward(x), x * 6));
  EXPECT_TRUE(at::allclose(recorder->inputs.back(), x * 6));
  // The first replacement wins, whatever follows.
  const HookHandle seven = linear.add_hook(std::make_shared<Constant>(7.0));
  const HookHandle eight = linear.add_hook(std::make_shared<Constant>(8.0));
  EXPECT_TRUE(at::allclose(linear.forward(x), at::full({1, 3}, 7.0f)));
  EXPECT_TRUE(linear.remove_hook(seven));
  EXPECT_FALSE(linear.remove_hook(seven));
  EXPECT_TRUE(at::allclose(linear.forward(x), at::full({1, 3}, 8.0f)));
  EXPECT_TRUE(linear.remove_hook(eight));
  EXPECT_TRUE(linear.remove_hook(twice));  // removes the x2 only
  EXPECT_TRUE(at::allclose(linear.forward(x), x * 3));
  EXPECT_TRUE(linear.remove_hook(thrice));
  EXPECT_TRUE(linear.remove_hook(observe));
  EXPECT_EQ(linear.hook_count(), 0u);
  const size_t seen = recorder->inputs.size();
  EXPECT_TRUE(at::allclose(linear.forward(x), x));
  EXPECT_EQ(recorder->inputs.size(), seen);
  EXPECT_FALSE(linear.remove_hook(HookHandle{}));
  // A stored computation stays through clear_hooks; an explicit float weight replaces it.
  Linear stored("m.q", 3, 3, std::make_shared<Constant>(5.0), "attn_q");
  stored.add_hook(std::make_shared<Scale>(2.0));
  stored.clear_hooks();
  EXPECT_TRUE(at::allclose(stored.forward(x), at::full({1, 3}, 5.0f)));
  stored.set_weight(at::eye(3));
  EXPECT_TRUE(at::allclose(stored.forward(x), x));
  EXPECT_ERROR_WITH(stored.set_weight(at::eye(4)), "m.q", "[3, 3]");
}

struct ZeroValues : AttentionHook {
  int calls = 0;
  void on_states(const DecoderLayer&, at::Tensor&, at::Tensor&, at::Tensor& v) override {
    ++calls;
    v = at::zeros_like(v);
  }
};

TEST(DecoderLayer, AttentionHooksLiveOnTheLayerAndLayerHandlesRemoveEither) {
  TempDir dir;
  const auto model = CausalLM::open(write_model(dir, "LlamaForCausalLM"));
  DecoderLayer layer = model->load_layer(0);
  const at::Tensor hidden = random_hidden(6, 64, 1);
  auto context = model->make_context(1, 6);
  const at::Tensor plain = model->run_layer(layer, hidden, context);
  auto zero = std::make_shared<ZeroValues>();
  const HookHandle attention = layer.add_attention_hook(zero);
  const HookHandle linear = layer.linear(roles::kDown).add_hook(std::make_shared<Constant>(0.0));
  // Zero values and a zero MLP: only the o_proj bias-free product of zeros is added.
  EXPECT_TRUE(at::allclose(model->run_layer(layer, hidden, context), hidden));
  EXPECT_EQ(zero->calls, 1);
  EXPECT_TRUE(layer.remove_hook(linear));
  EXPECT_TRUE(layer.remove_hook(attention));
  EXPECT_FALSE(layer.remove_hook(attention));
  EXPECT_TRUE(at::allclose(model->run_layer(layer, hidden, context), plain));
  layer.add_attention_hook(zero);
  layer.linear(roles::kQ).add_hook(std::make_shared<Scale>(0.0));
  layer.clear_hooks();
  EXPECT_TRUE(at::allclose(model->run_layer(layer, hidden, context), plain));
  EXPECT_EQ(zero->calls, 1);
}

// The MoE feed-forward in fp64 loops: softmax over the router logits, top-k by sorting,
// renormalisation, SwiGLU experts, the sigmoid-gated shared expert.
at::Tensor reference_moe(const DecoderLayer& layer, const slim::io::ModelConfig& config,
                         const at::Tensor& x_in) {
  const auto x = x_in.to(at::kDouble).reshape({-1, config.hidden_size});
  const int64_t tokens = x.size(0), experts = config.moe->num_experts, k = config.moe->top_k;
  auto w = [&](const std::string& role, int64_t e = -1) {
    return layer.linear(role, e).weight().to(at::kDouble);
  };
  auto swiglu = [&](const at::Tensor& row, const at::Tensor& g, const at::Tensor& u,
                    const at::Tensor& d) {
    const at::Tensor a = at::matmul(g, row), b = at::matmul(u, row);
    return at::matmul(d, a / (1 + at::exp(-a)) * b);
  };
  at::Tensor out = at::zeros_like(x);
  for (int64_t t = 0; t < tokens; ++t) {
    const at::Tensor row = x[t];
    const at::Tensor logits = at::matmul(w(roles::kRouter), row);
    std::vector<double> p(experts);
    double total = 0;
    for (int64_t e = 0; e < experts; ++e)
      total += p[e] = std::exp(logits[e].item<double>());
    for (auto& v : p)
      v /= total;
    std::vector<int64_t> order(experts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    double kept = 0;
    for (int64_t i = 0; i < k; ++i)
      kept += p[order[i]];
    at::Tensor sum = at::zeros({config.hidden_size}, at::kDouble);
    for (int64_t i = 0; i < k; ++i) {
      const int64_t e = order[i];
      const double weight = config.moe->norm_top_k ? p[e] / kept : p[e];
      sum += weight * swiglu(row, w(roles::kExpertGate, e), w(roles::kExpertUp, e),
                             w(roles::kExpertDown, e));
    }
    if (layer.has_linear(roles::kSharedGate)) {
      const double gate = at::matmul(w(roles::kSharedRouter), row)[0].item<double>();
      sum += 1 / (1 + std::exp(-gate)) *
             swiglu(row, w(roles::kSharedGate), w(roles::kSharedUp), w(roles::kSharedDown));
    }
    out[t] = sum;
  }
  return out.view(x_in.sizes());
}

TEST(MixtureOfExperts, FeedForwardMatchesAScalarReferenceForEveryFamily) {
  for (const std::string arch :
       {"Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM", "MixtralForCausalLM"}) {
    for (const bool normalise : {true, false}) {
      SCOPED_TRACE(arch + (normalise ? " normalised" : " unnormalised"));
      TempDir dir;
      RandomModelOptions options;
      options.num_experts = 5;
      options.num_experts_per_tok = 2;
      options.norm_topk_prob = normalise;
      const auto model = CausalLM::open(write_model(dir, arch, options));
      DecoderLayer layer = model->load_layer(0);
      // Larger router weights: well-separated routing (no near-ties to argue about).
      layer.linear(roles::kRouter).set_weight(layer.linear(roles::kRouter).weight() * 8);
      const auto& config = model->config();
      // Attention off (zero o_proj), unit norm weights: out = h + moe(rms(h)).
      layer.linear(roles::kO).add_hook(std::make_shared<Constant>(0.0));
      layer.set_norm(roles::kFfnNorm, at::ones({config.hidden_size}));
      const at::Tensor hidden = random_hidden(9, config.hidden_size, 7);
      auto context = model->make_context(1, 9);
      const at::Tensor ours = model->run_layer(layer, hidden, context) - hidden;
      const at::Tensor h = hidden.to(at::kDouble);
      const at::Tensor normed = h / at::sqrt(h.pow(2).mean(-1, true) + config.rms_norm_eps);
      const at::Tensor expected = reference_moe(layer, config, normed);
      EXPECT_LT((ours.to(at::kDouble) - expected).abs().max().item<double>(),
                1e-5 * expected.abs().max().item<double>());
      // The routing the forward used is the reference's.
      const auto routing = route_tokens(config, layer, normed.to(at::kFloat).view({9, -1}));
      EXPECT_EQ(routing.experts.sizes(), (at::IntArrayRef{9, 2}));
      if (normalise || arch == "MixtralForCausalLM") {
        EXPECT_TRUE(at::allclose(routing.weights.sum(-1), at::ones({9})));
      } else {
        EXPECT_TRUE((routing.weights.sum(-1) <= 1.0 + 1e-6).all().item<bool>());
        EXPECT_TRUE((routing.weights.sum(-1) < 0.99).any().item<bool>());
      }
    }
  }
}

TEST(DeployedComputation, RunsTheRecordAsTheEngineKernelBitForBit) {
  at::manual_seed(11);
  const at::Tensor weight = at::randn({48, 64}, at::kBFloat16);
  const at::Tensor bias = at::randn({48}, at::kBFloat16);
  const at::Tensor x = at::randn({2, 5, 64}, at::kFloat);
  using slim::quant::QDtype;
  using slim::quant::QScope;
  const slim::quant::QScheme none{};
  const slim::quant::QScheme dynamic{QDtype::Int8, QScope::PerToken, true, 0};
  for (const auto& [act, w] :
       {std::pair{none, slim::quant::QScheme{QDtype::Int8, QScope::PerChannel, true, 0}},
        std::pair{none, slim::quant::QScheme{QDtype::Int4, QScope::PerGroup, false, 32}},
        std::pair{dynamic, slim::quant::QScheme{QDtype::Int8, QScope::PerChannel, true, 0}}}) {
    const auto record =
        slim::quant::deploy_linear("m.proj", weight, bias, act, w, std::nullopt, at::kBFloat16);
    Linear linear("m.proj", 48, 64, deployed_computation(record, c10::kCPU), "attn_q");
    const at::Tensor expected = slim::quant::deployed_linear_forward(record, x);
    EXPECT_TRUE(at::equal(linear.forward(x), expected)) << slim::quant::tag_name(record.tag);
    EXPECT_TRUE(at::equal(linear.forward(x), expected)) << "second call (cached weight)";
    EXPECT_TRUE(at::equal(linear.forward(x.to(at::kDouble)),
                          slim::quant::deployed_linear_forward(record, x.to(at::kDouble))));
  }
  const auto record = slim::quant::deploy_linear("m.proj", weight, bias, none,
                                                 {QDtype::Int8, QScope::PerChannel, true, 0},
                                                 std::nullopt, at::kBFloat16);
  Linear linear("m.proj", 48, 64, deployed_computation(record, c10::kCPU), "attn_q");
  EXPECT_ERROR_WITH(linear.forward(at::randn({2, 63})), "m.proj");
  const auto dynamic_record = slim::quant::deploy_linear(
      "m.dyn", weight, bias, dynamic, {QDtype::Int8, QScope::PerChannel, true, 0}, std::nullopt,
      at::kBFloat16);
  EXPECT_ERROR_WITH(slim::quant::weight_only_operand(dynamic_record, at::kFloat, c10::kCPU),
                    "m.dyn", "not a weight-only form");
}

}  // namespace
