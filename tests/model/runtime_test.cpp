// The decoder runtime against an independent fp64 reference written here from the Hugging Face
// modelling equations (plain loops for rotary and attention), for every family and rope type.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "slim/core/files.h"
#include "slim/io/safetensors.h"
#include "slim/model/causal_lm.h"
#include "slim/model/random_model.h"
#include "slim/model/roles.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using nlohmann::json;
using slim::testing::TempDir;

// ---------------------------------------------------------------- fp64 reference

struct Reference {
  json config;
  slim::io::SafetensorsCheckpoint weights;

  at::Tensor w(const std::string& name) const { return weights.tensor(name).to(at::kDouble); }
  bool has(const std::string& name) const { return weights.contains(name); }
  int64_t get(const char* key) const { return config.at(key).get<int64_t>(); }

  at::Tensor rms(const at::Tensor& x, const at::Tensor& weight) const {
    const double eps = config.value("rms_norm_eps", 1e-6);
    return x / at::sqrt(x.pow(2).mean(-1, true) + eps) * weight;
  }

  // Inverse frequencies straight from the formulas, in double.
  std::vector<double> inv_freq(int64_t dim, double* attention_scale) const {
    const double base = config.value("rope_theta", 10000.0);
    std::vector<double> freq(dim / 2);
    for (int64_t i = 0; i < dim / 2; ++i)
      freq[i] = 1.0 / std::pow(base, 2.0 * i / dim);
    *attention_scale = 1.0;
    if (!config.contains("rope_scaling") || config["rope_scaling"].is_null()) return freq;
    const json& s = config["rope_scaling"];
    const std::string type = s.value("rope_type", s.value("type", "default"));
    const double factor = s.value("factor", 1.0);
    if (type == "linear") {
      for (auto& f : freq)
        f /= factor;
    } else if (type == "llama3") {
      const double old = s["original_max_position_embeddings"].get<double>();
      const double lo = s["low_freq_factor"].get<double>(),
                   hi = s["high_freq_factor"].get<double>();
      for (auto& f : freq) {
        const double wavelen = 2 * M_PI / f;
        if (wavelen < old / hi) continue;  // high frequency: unchanged
        if (wavelen > old / lo) {
          f /= factor;
          continue;
        }  // low frequency: scaled
        const double smooth = (old / wavelen - lo) / (hi - lo);
        f = (1 - smooth) * f / factor + smooth * f;
      }
    } else if (type == "yarn") {
      const double original = config["max_position_embeddings"].get<double>();
      *attention_scale = 0.1 * std::log(factor) + 1.0;
      auto corr = [&](double rotations) {
        return dim * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(base));
      };
      const double low = std::max(std::floor(corr(s.value("beta_fast", 32.0))), 0.0);
      double high = std::min(std::ceil(corr(s.value("beta_slow", 1.0))), double(dim - 1));
      if (low == high) high += 0.001;
      for (int64_t i = 0; i < dim / 2; ++i) {
        const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
        const double extrapolation = 1 - ramp;
        freq[i] = freq[i] / factor * (1 - extrapolation) + freq[i] * extrapolation;
      }
    }
    return freq;
  }

  // Rotates x [heads, seq, dim] in place by position (rotate-half convention).
  void rope(at::Tensor& x) const {
    const int64_t dim = x.size(2);
    double scale = 1.0;
    const auto freq = inv_freq(dim, &scale);
    auto a = x.accessor<double, 3>();
    for (int64_t h = 0; h < x.size(0); ++h) {
      for (int64_t t = 0; t < x.size(1); ++t) {
        for (int64_t i = 0; i < dim / 2; ++i) {
          const double c = std::cos(t * freq[i]) * scale, s = std::sin(t * freq[i]) * scale;
          const double x1 = a[h][t][i], x2 = a[h][t][i + dim / 2];
          a[h][t][i] = x1 * c - x2 * s;
          a[h][t][i + dim / 2] = x2 * c + x1 * s;
        }
      }
    }
  }

  at::Tensor linear(const std::string& name, const at::Tensor& x) const {
    at::Tensor y = at::matmul(x, w(name + ".weight").t());
    if (has(name + ".bias")) y = y + w(name + ".bias");
    return y;
  }

  // Logits [seq, vocab] for one sequence of ids.
  at::Tensor logits(const std::vector<int64_t>& ids, std::optional<int64_t> window) const {
    const int64_t heads = get("num_attention_heads"), kv_heads = get("num_key_value_heads");
    const int64_t dim = get("head_dim"), seq = static_cast<int64_t>(ids.size());
    at::Tensor h = w("model.embed_tokens.weight").index_select(0, at::tensor(ids));
    for (int64_t layer = 0; layer < get("num_hidden_layers"); ++layer) {
      const std::string p = "model.layers." + std::to_string(layer) + ".";
      const at::Tensor x = rms(h, w(p + "input_layernorm.weight"));
      at::Tensor q =
          linear(p + "self_attn.q_proj", x).view({seq, heads, dim}).transpose(0, 1).contiguous();
      at::Tensor k =
          linear(p + "self_attn.k_proj", x).view({seq, kv_heads, dim}).transpose(0, 1).contiguous();
      at::Tensor v =
          linear(p + "self_attn.v_proj", x).view({seq, kv_heads, dim}).transpose(0, 1).contiguous();
      if (has(p + "self_attn.q_norm.weight")) {
        q = rms(q, w(p + "self_attn.q_norm.weight")).contiguous();
        k = rms(k, w(p + "self_attn.k_norm.weight")).contiguous();
      }
      rope(q);
      rope(k);
      at::Tensor out = at::zeros({seq, heads * dim}, at::kDouble);
      auto qa = q.accessor<double, 3>(), ka = k.accessor<double, 3>(), va = v.accessor<double, 3>();
      auto oa = out.accessor<double, 2>();
      for (int64_t head = 0; head < heads; ++head) {
        const int64_t kv = head / (heads / kv_heads);
        for (int64_t t = 0; t < seq; ++t) {
          std::vector<double> scores;
          std::vector<int64_t> keys;
          for (int64_t s = 0; s <= t; ++s) {
            if (window && t - s >= *window) continue;
            double dot = 0;
            for (int64_t i = 0; i < dim; ++i)
              dot += qa[head][t][i] * ka[kv][s][i];
            scores.push_back(dot / std::sqrt(double(dim)));
            keys.push_back(s);
          }
          const double top = *std::max_element(scores.begin(), scores.end());
          double total = 0;
          for (auto& score : scores)
            total += (score = std::exp(score - top));
          for (size_t j = 0; j < keys.size(); ++j) {
            for (int64_t i = 0; i < dim; ++i)
              oa[t][head * dim + i] += scores[j] / total * va[kv][keys[j]][i];
          }
        }
      }
      h = h + linear(p + "self_attn.o_proj", out);
      const at::Tensor y = rms(h, w(p + "post_attention_layernorm.weight"));
      const at::Tensor gate = linear(p + "mlp.gate_proj", y);
      h = h + linear(p + "mlp.down_proj", gate * at::sigmoid(gate) * linear(p + "mlp.up_proj", y));
    }
    h = rms(h, w("model.norm.weight"));
    const bool tied = config.value("tie_word_embeddings", false);
    return at::matmul(h, w(tied ? "model.embed_tokens.weight" : "lm_head.weight").t());
  }
};

struct Variant {
  const char* name;
  const char* architecture;
  json config_patch;
  bool tied = false;
  std::optional<int64_t> window;  // what the reference applies
};

std::vector<Variant> variants() {
  return {
      {"llama", "LlamaForCausalLM", json::object()},
      {"llama_tied", "LlamaForCausalLM", json::object(), true},
      {"llama3_rope",
       "LlamaForCausalLM",
       {{"rope_scaling",
         {{"rope_type", "llama3"},
          {"factor", 8.0},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 16}}},
        {"rope_theta", 500000.0}}},
      {"linear_rope",
       "LlamaForCausalLM",
       {{"rope_scaling", {{"type", "linear"}, {"factor", 4.0}}}}},
      {"yarn_rope",
       "Qwen2ForCausalLM",
       {{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}}}},
      {"mistral_window", "MistralForCausalLM", {{"sliding_window", 5}}, false, 5},
      {"qwen2_bias", "Qwen2ForCausalLM", json::object()},
      {"qwen2_window",
       "Qwen2ForCausalLM",
       {{"use_sliding_window", true}, {"sliding_window", 4}, {"max_window_layers", 0}},
       false,
       4},
      {"qwen3_qk_norm", "Qwen3ForCausalLM", json::object(), true},
  };
}

std::string make_variant(const TempDir& dir, const Variant& variant, c10::ScalarType dtype) {
  slim::model::RandomModelOptions options;
  options.architecture = variant.architecture;
  options.tie_word_embeddings = variant.tied;
  options.dtype = dtype;
  options.num_attention_heads = 4;
  options.num_key_value_heads = 2;
  options.seed = 7;
  const std::string path = dir.file(variant.name);
  slim::model::write_random_model(options, path);
  json config = json::parse(slim::read_file(path + "/config.json"));
  config.merge_patch(variant.config_patch);
  slim::write_file(path + "/config.json", config.dump(2));
  return path;
}

std::vector<int64_t> sample_ids(int64_t count, int64_t vocab, uint64_t seed) {
  std::vector<int64_t> ids;
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (int64_t i = 0; i < count; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    ids.push_back(static_cast<int64_t>((state >> 33) % vocab));
  }
  return ids;
}

double max_relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  return ((actual.to(at::kDouble) - expected).abs().max() / expected.abs().max()).item<double>();
}

TEST(Runtime, LogitsMatchTheFp64ReferenceForEveryFamilyAndRopeType) {
  for (const auto& variant : variants()) {
    SCOPED_TRACE(variant.name);
    TempDir dir;
    const std::string path = make_variant(dir, variant, at::kFloat);
    const auto ids = sample_ids(24, 256, 3);
    Reference reference{json::parse(slim::read_file(path + "/config.json")),
                        slim::io::SafetensorsCheckpoint::open(path)};
    const at::Tensor expected = reference.logits(ids, variant.window);
    const auto model = slim::model::CausalLM::open(path);
    const at::Tensor actual = model->forward(at::tensor(ids).unsqueeze(0))[0];
    EXPECT_LT(max_relative_error(actual, expected), 1e-5);
  }
}

TEST(Runtime, LayerByLayerEqualsWholeModelAndResidentLayers) {
  TempDir dir;
  const std::string path = make_variant(dir, variants()[0], at::kBFloat16);
  const auto model = slim::model::CausalLM::open(path);
  const at::Tensor ids = at::tensor(sample_ids(32, 256, 5)).view({2, 16});
  const at::Tensor whole = model->forward(ids);
  at::Tensor hidden = model->embed(ids);
  auto context = model->make_context(2, 16);
  for (int64_t k = 0; k < model->config().num_hidden_layers; ++k) {
    auto layer = model->load_layer(k);
    hidden = model->run_layer(layer, hidden, context);
  }
  EXPECT_TRUE(at::equal(model->head(hidden), whole));
  model->keep_layers_resident();
  EXPECT_TRUE(at::equal(model->forward(ids), whole));
}

TEST(Runtime, KvCacheDecodingEqualsFullRecomputation) {
  for (const auto& variant : variants()) {
    SCOPED_TRACE(variant.name);
    TempDir dir;
    const std::string path = make_variant(dir, variant, at::kFloat);
    const auto model = slim::model::CausalLM::open(path);
    model->keep_layers_resident();
    const at::Tensor ids = at::tensor(sample_ids(20, 256, 9)).unsqueeze(0);
    const at::Tensor full = model->forward(ids);
    slim::model::KVCache cache;
    std::vector<at::Tensor> steps = {model->forward(ids.narrow(1, 0, 12), &cache)};
    for (int64_t t = 12; t < 20; ++t)
      steps.push_back(model->forward(ids.narrow(1, t, 1), &cache));
    EXPECT_EQ(cache.length, 20);
    EXPECT_LT(max_relative_error(at::cat(steps, 1), full.to(at::kDouble)), 1e-5);
  }
}

TEST(Runtime, Bf16WeightsAndComputeStayWithinBf16Tolerance) {
  TempDir dir;
  const std::string path = make_variant(dir, variants()[0], at::kFloat);
  const at::Tensor ids = at::tensor(sample_ids(32, 256, 11)).unsqueeze(0);
  const at::Tensor fp32 = slim::model::CausalLM::open(path)->forward(ids);
  slim::model::RuntimeOptions options;
  options.compute_dtype = at::kBFloat16;
  const at::Tensor bf16 = slim::model::CausalLM::open(path, options)->forward(ids);
  // bf16 keeps 8 significant bits: per-element error ~1e-2 of the logit range after 2 layers.
  EXPECT_LT(max_relative_error(bf16, fp32.to(at::kDouble)), 5e-2);
  EXPECT_GT(max_relative_error(bf16, fp32.to(at::kDouble)), 0.0);  // it really ran in bf16
}

TEST(Runtime, HooksObserveEveryLinearAndCanReplaceOne) {
  struct Recorder : slim::model::LinearHook {
    std::vector<std::string> seen;
    void observe(const slim::model::Linear& linear, const at::Tensor&, const at::Tensor&) override {
      seen.push_back(linear.name());
    }
  };
  struct Zero : slim::model::LinearHook {
    std::optional<at::Tensor> replace(const slim::model::Linear& linear,
                                      const at::Tensor& x) override {
      return at::zeros({x.size(0), x.size(1), linear.out_features()}, x.options());
    }
  };
  TempDir dir;
  const auto model = slim::model::CausalLM::open(make_variant(dir, variants()[0], at::kFloat));
  const at::Tensor ids = at::tensor(sample_ids(8, 256, 1)).unsqueeze(0);
  auto layer = model->load_layer(0);
  auto recorder = std::make_shared<Recorder>();
  for (auto* linear : layer.linears())
    linear->add_hook(recorder);
  auto context = model->make_context(1, 8);
  const at::Tensor hidden = model->embed(ids);
  const at::Tensor normal = model->run_layer(layer, hidden, context);
  EXPECT_EQ(recorder->seen,
            (std::vector<std::string>{
                "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj",
                "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
                "model.layers.0.mlp.down_proj"}));
  // Zeroing o_proj and down_proj leaves the residual stream untouched.
  layer.linear(slim::model::roles::kO).add_hook(std::make_shared<Zero>());
  layer.linear(slim::model::roles::kDown).add_hook(std::make_shared<Zero>());
  EXPECT_TRUE(at::allclose(model->run_layer(layer, hidden, context), hidden));
  EXPECT_FALSE(at::allclose(normal, hidden));
}

TEST(RuntimeBadInput, MissingOrMisShapedTensorsAreNamed) {
  TempDir dir;
  const std::string path = make_variant(dir, variants()[0], at::kFloat);
  json config = json::parse(slim::read_file(path + "/config.json"));
  config["intermediate_size"] = 96;
  slim::write_file(path + "/config.json", config.dump());
  const auto model = slim::model::CausalLM::open(path);
  EXPECT_ERROR_WITH(model->load_layer(0), "model.layers.0.mlp.gate_proj.weight", "[128, 64]",
                    "[96, 64]");
  EXPECT_ERROR_WITH(model->load_layer(5), "layer 5");
  config["intermediate_size"] = 128;
  config["vocab_size"] = 300;
  slim::write_file(path + "/config.json", config.dump());
  EXPECT_ERROR_WITH(slim::model::CausalLM::open(path), "model.embed_tokens.weight", "[256, 64]",
                    "[300, 64]");
}

TEST(RuntimeBadInput, SequenceBeyondPositionsAndIdsOutsideVocabulary) {
  TempDir dir;
  const std::string path = make_variant(dir, variants()[0], at::kFloat);
  json config = json::parse(slim::read_file(path + "/config.json"));
  config["max_position_embeddings"] = 16;
  slim::write_file(path + "/config.json", config.dump());
  const auto model = slim::model::CausalLM::open(path);
  EXPECT_ERROR_WITH(model->forward(at::zeros({1, 17}, at::kLong)), "17 positions", "limit of 16");
  EXPECT_ERROR_WITH(model->forward(at::full({1, 2}, 256, at::kLong)), "token id 256", "[0, 256)");
}

}  // namespace
