#include "slim/io/model_config.h"
#include "slim/model/architecture.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using nlohmann::json;
using slim::io::load_model_config;
using slim::io::ModelConfig;
using slim::io::parse_model_config;
using slim::testing::TempDir;

const char kSource[] = "models/test/config.json";

ModelConfig parse(const json& object) {
  return parse_model_config(object, kSource);
}

// Writes `contents` to `name` inside `dir`; returns the path.
std::string write(const TempDir& dir, const std::string& name, const std::string& contents) {
  const std::string path = dir.file(name);
  slim::write_file(path, contents);
  return path;
}

// ------------------------------------------------------------------ realistic configurations

json llama31_8b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": false,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009],
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 131072,
    "mlp_bias": false,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
      "factor": 8.0,
      "low_freq_factor": 1.0,
      "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192,
      "rope_type": "llama3"
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": false,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0",
    "use_cache": true,
    "vocab_size": 128256
  })");
}

json mistral_7b() {
  return json::parse(R"({
    "architectures": ["MistralForCausalLM"],
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mistral",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "sliding_window": 4096,
    "tie_word_embeddings": false,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.34.0.dev0",
    "use_cache": true,
    "vocab_size": 32000
  })");
}

json qwen25_7b() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "max_position_embeddings": 131072,
    "max_window_layers": 28,
    "model_type": "qwen2",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 131072,
    "tie_word_embeddings": false,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.43.1",
    "use_cache": true,
    "use_sliding_window": false,
    "vocab_size": 152064
  })");
}

// Qwen3-0.6B: head_dim (128) differs from hidden_size / num_attention_heads (64).
json qwen3_06b() {
  return json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": false,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 1024,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 40960,
    "max_window_layers": 28,
    "model_type": "qwen3",
    "num_attention_heads": 16,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": null,
    "rope_theta": 1000000,
    "sliding_window": null,
    "tie_word_embeddings": true,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": true,
    "use_sliding_window": false,
    "vocab_size": 151936
  })");
}

// The required keys only.
json minimal(const std::string& architecture) {
  return json{
      {"architectures", {architecture}}, {"vocab_size", 1000},     {"hidden_size", 256},
      {"intermediate_size", 512},        {"num_hidden_layers", 4}, {"num_attention_heads", 8}};
}

TEST(ModelConfig, ParsesLlama31With8xLlama3RopeScaling) {
  const ModelConfig config = parse(llama31_8b());
  EXPECT_EQ(config.source, kSource);
  EXPECT_EQ(config.architecture, "LlamaForCausalLM");
  ASSERT_NE(config.traits, nullptr);
  EXPECT_STREQ(config.traits->name, "LlamaForCausalLM");
  EXPECT_EQ(config.model_type, "llama");
  EXPECT_EQ(config.vocab_size, 128256);
  EXPECT_EQ(config.hidden_size, 4096);
  EXPECT_EQ(config.intermediate_size, 14336);
  EXPECT_EQ(config.num_hidden_layers, 32);
  EXPECT_EQ(config.num_attention_heads, 32);
  EXPECT_EQ(config.num_key_value_heads, 8);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_EQ(config.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_EQ(config.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(config.rope_scaling.attention_factor.has_value());
  EXPECT_EQ(config.hidden_act, "silu");
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_FALSE(config.attention_bias);
  EXPECT_FALSE(config.mlp_bias);
  EXPECT_FALSE(config.sliding_window.has_value());
  EXPECT_EQ(config.dtype, "bfloat16");
  EXPECT_EQ(config.bos_token_id, 128000);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_FALSE(config.pad_token_id.has_value());
  EXPECT_FALSE(config.has_qkv_bias());
  EXPECT_FALSE(config.has_o_bias());
  EXPECT_FALSE(config.has_mlp_bias());
  EXPECT_FALSE(config.has_qk_norm());
  for (int64_t layer : {0, 15, 31})
    EXPECT_FALSE(config.window_of_layer(layer).has_value()) << layer;
  // The whole document is kept, unknown keys included.
  EXPECT_EQ(config.raw, llama31_8b());
  EXPECT_EQ(config.raw.at("pretraining_tp"), 1);
}

TEST(ModelConfig, ParsesMistral7BWithSlidingWindowOnEveryLayer) {
  const ModelConfig config = parse(mistral_7b());
  EXPECT_EQ(config.architecture, "MistralForCausalLM");
  EXPECT_EQ(config.model_type, "mistral");
  EXPECT_EQ(config.vocab_size, 32000);
  EXPECT_EQ(config.num_key_value_heads, 8);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_EQ(config.max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_EQ(config.rope_scaling.type, "default");
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 1.0);
  EXPECT_EQ(config.sliding_window, 4096);
  EXPECT_FALSE(config.use_sliding_window);
  // Mistral needs no use_sliding_window flag: the window applies to every layer.
  for (int64_t layer : {0, 1, 16, 31})
    EXPECT_EQ(config.window_of_layer(layer), 4096) << layer;
  EXPECT_EQ(config.bos_token_id, 1);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_FALSE(config.has_qkv_bias());
  EXPECT_FALSE(config.has_o_bias());
  EXPECT_FALSE(config.has_mlp_bias());
  EXPECT_FALSE(config.has_qk_norm());
}

TEST(ModelConfig, MistralNullSlidingWindowMeansFullAttention) {
  // Mistral-7B-Instruct-v0.2 style: "sliding_window": null.
  json object = mistral_7b();
  object["sliding_window"] = nullptr;
  object["rope_theta"] = 1000000.0;
  const ModelConfig config = parse(object);
  EXPECT_FALSE(config.sliding_window.has_value());
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  for (int64_t layer : {0, 31})
    EXPECT_FALSE(config.window_of_layer(layer).has_value()) << layer;
}

TEST(ModelConfig, MistralAbsentSlidingWindowUsesTheClassDefault) {
  json object = mistral_7b();
  object.erase("sliding_window");
  const ModelConfig config = parse(object);
  EXPECT_EQ(config.sliding_window, 4096);
  EXPECT_EQ(config.window_of_layer(0), 4096);
}

TEST(ModelConfig, MistralIgnoresBiasKeys) {
  json object = mistral_7b();
  object["attention_bias"] = true;
  object["mlp_bias"] = true;
  const ModelConfig config = parse(object);
  EXPECT_TRUE(config.attention_bias);   // parsed ...
  EXPECT_FALSE(config.has_qkv_bias());  // ... but Mistral layers never carry biases
  EXPECT_FALSE(config.has_o_bias());
  EXPECT_FALSE(config.has_mlp_bias());
}

TEST(ModelConfig, ParsesQwen25WithQkvBiasAndDisabledWindow) {
  const ModelConfig config = parse(qwen25_7b());
  EXPECT_EQ(config.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(config.model_type, "qwen2");
  EXPECT_EQ(config.vocab_size, 152064);
  EXPECT_EQ(config.hidden_size, 3584);
  EXPECT_EQ(config.intermediate_size, 18944);
  EXPECT_EQ(config.num_attention_heads, 28);
  EXPECT_EQ(config.num_key_value_heads, 4);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  EXPECT_EQ(config.sliding_window, 131072);
  EXPECT_FALSE(config.use_sliding_window);
  EXPECT_EQ(config.max_window_layers, 28);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{151643}));
  // Qwen2 always has q/k/v biases, never an o_proj or MLP bias.
  EXPECT_TRUE(config.has_qkv_bias());
  EXPECT_FALSE(config.has_o_bias());
  EXPECT_FALSE(config.has_mlp_bias());
  EXPECT_FALSE(config.has_qk_norm());
  // use_sliding_window is false: the window is configured but unused.
  for (int64_t layer : {0, 14, 27})
    EXPECT_FALSE(config.window_of_layer(layer).has_value()) << layer;
}

TEST(ModelConfig, Qwen2BiasKeysDoNotAddOOrMlpBias) {
  json object = qwen25_7b();
  object["attention_bias"] = true;
  object["mlp_bias"] = true;
  const ModelConfig config = parse(object);
  EXPECT_TRUE(config.has_qkv_bias());
  EXPECT_FALSE(config.has_o_bias());
  EXPECT_FALSE(config.has_mlp_bias());
}

TEST(ModelConfig, ParsesQwen3WithExplicitHeadDimAndQkNorm) {
  const ModelConfig config = parse(qwen3_06b());
  EXPECT_EQ(config.architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(config.model_type, "qwen3");
  EXPECT_EQ(config.hidden_size, 1024);
  EXPECT_EQ(config.num_attention_heads, 16);
  EXPECT_EQ(config.num_key_value_heads, 8);
  EXPECT_EQ(config.head_dim, 128);  // not 1024 / 16
  EXPECT_EQ(config.max_position_embeddings, 40960);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);        // an integer in the file
  EXPECT_EQ(config.rope_scaling.type, "default");  // "rope_scaling": null
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_FALSE(config.sliding_window.has_value());  // "sliding_window": null
  EXPECT_FALSE(config.window_of_layer(27).has_value());
  EXPECT_TRUE(config.has_qk_norm());
  EXPECT_FALSE(config.has_qkv_bias());
  EXPECT_FALSE(config.has_o_bias());
  EXPECT_FALSE(config.has_mlp_bias());
  EXPECT_EQ(config.bos_token_id, 151643);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{151645}));
}

TEST(ModelConfig, Qwen3AttentionBiasCoversQkvAndO) {
  json object = qwen3_06b();
  object["attention_bias"] = true;
  object["mlp_bias"] = true;
  const ModelConfig config = parse(object);
  EXPECT_TRUE(config.has_qkv_bias());
  EXPECT_TRUE(config.has_o_bias());
  EXPECT_FALSE(config.has_mlp_bias());  // Qwen3's MLP has no bias switch
}

TEST(ModelConfig, LlamaHonoursAttentionAndMlpBias) {
  json object = llama31_8b();
  object["attention_bias"] = true;
  EXPECT_TRUE(parse(object).has_qkv_bias());
  EXPECT_TRUE(parse(object).has_o_bias());
  EXPECT_FALSE(parse(object).has_mlp_bias());
  object["attention_bias"] = false;
  object["mlp_bias"] = true;
  EXPECT_FALSE(parse(object).has_qkv_bias());
  EXPECT_FALSE(parse(object).has_o_bias());
  EXPECT_TRUE(parse(object).has_mlp_bias());
}

// ------------------------------------------------------------------------------ defaults

TEST(ModelConfig, MinimalConfigsUseTheFamilyDefaults) {
  struct Expected {
    const char* architecture;
    const char* model_type;
    int64_t max_position_embeddings;
    std::optional<int64_t> sliding_window;
    int64_t head_dim;
    int64_t max_window_layers;
  };
  const Expected rows[] = {
      {"LlamaForCausalLM", "llama", 2048, std::nullopt, 32, 0},
      {"MistralForCausalLM", "mistral", 131072, 4096, 32, 0},
      {"Qwen2ForCausalLM", "qwen2", 32768, 4096, 32, 28},
      {"Qwen3ForCausalLM", "qwen3", 32768, 4096, 128, 28},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.architecture);
    const ModelConfig config = parse(minimal(row.architecture));
    EXPECT_EQ(config.architecture, row.architecture);
    EXPECT_EQ(config.model_type, row.model_type);
    EXPECT_EQ(config.num_key_value_heads, 8);  // = num_attention_heads
    EXPECT_EQ(config.head_dim, row.head_dim);
    EXPECT_EQ(config.max_position_embeddings, row.max_position_embeddings);
    EXPECT_EQ(config.sliding_window, row.sliding_window);
    EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
    EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
    EXPECT_EQ(config.rope_scaling.type, "default");
    EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 1.0);
    EXPECT_EQ(config.hidden_act, "silu");
    EXPECT_FALSE(config.tie_word_embeddings);
    EXPECT_FALSE(config.attention_bias);
    EXPECT_FALSE(config.mlp_bias);
    EXPECT_FALSE(config.use_sliding_window);
    EXPECT_EQ(config.max_window_layers, row.max_window_layers);
    EXPECT_TRUE(config.layer_types.empty());
    EXPECT_EQ(config.dtype, "");
    EXPECT_FALSE(config.bos_token_id.has_value());
    EXPECT_TRUE(config.eos_token_ids.empty());
    EXPECT_FALSE(config.pad_token_id.has_value());
  }
}

TEST(ModelConfig, Qwen3DefaultHeadDimIs128EvenWhenHiddenSaysOtherwise) {
  json object = minimal("Qwen3ForCausalLM");
  object["hidden_size"] = 1024;
  object["num_attention_heads"] = 16;
  EXPECT_EQ(parse(object).head_dim, 128);
  // And needs no divisibility of hidden_size by the head count.
  object["hidden_size"] = 1000;
  object["num_attention_heads"] = 7;
  EXPECT_EQ(parse(object).head_dim, 128);
}

TEST(ModelConfig, ExplicitHeadDimWins) {
  json object = minimal("LlamaForCausalLM");
  object["head_dim"] = 64;
  EXPECT_EQ(parse(object).head_dim, 64);
  // A null head_dim is treated as absent.
  object["head_dim"] = nullptr;
  EXPECT_EQ(parse(object).head_dim, 32);
}

TEST(ModelConfig, ModelTypeFromFileIsKept) {
  json object = minimal("LlamaForCausalLM");
  object["model_type"] = "llama_custom";
  EXPECT_EQ(parse(object).model_type, "llama_custom");
}

TEST(ModelConfig, AcceptsTorchDtypeAndDtype) {
  for (const char* dtype : {"bfloat16", "float16", "float32"}) {
    json object = minimal("LlamaForCausalLM");
    object["torch_dtype"] = dtype;
    EXPECT_EQ(parse(object).dtype, dtype);
    object.erase("torch_dtype");
    object["dtype"] = dtype;  // transformers 5 spelling
    EXPECT_EQ(parse(object).dtype, dtype);
  }
  // "dtype" wins when both are present.
  json both = minimal("LlamaForCausalLM");
  both["dtype"] = "float16";
  both["torch_dtype"] = "bfloat16";
  EXPECT_EQ(parse(both).dtype, "float16");
}

TEST(ModelConfig, EosTokenIdIsAnIntegerAListOrNull) {
  json object = minimal("LlamaForCausalLM");
  object["eos_token_id"] = 7;
  EXPECT_EQ(parse(object).eos_token_ids, (std::vector<int64_t>{7}));
  object["eos_token_id"] = {3, 5, 999};
  EXPECT_EQ(parse(object).eos_token_ids, (std::vector<int64_t>{3, 5, 999}));
  object["eos_token_id"] = json::array();
  EXPECT_TRUE(parse(object).eos_token_ids.empty());
  object["eos_token_id"] = nullptr;
  EXPECT_TRUE(parse(object).eos_token_ids.empty());
}

TEST(ModelConfig, BosAndPadTokenIds) {
  json object = minimal("LlamaForCausalLM");
  object["bos_token_id"] = 0;
  object["pad_token_id"] = 999;
  const ModelConfig config = parse(object);
  EXPECT_EQ(config.bos_token_id, 0);
  EXPECT_EQ(config.pad_token_id, 999);
  object["bos_token_id"] = nullptr;
  object["pad_token_id"] = nullptr;
  EXPECT_FALSE(parse(object).bos_token_id.has_value());
  EXPECT_FALSE(parse(object).pad_token_id.has_value());
}

// --------------------------------------------------------------------------- rope scaling

TEST(ModelConfig, RopeScalingLinearAndDynamic) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  const ModelConfig linear = parse(object);
  EXPECT_EQ(linear.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(linear.rope_scaling.factor, 2.0);
  EXPECT_FALSE(linear.rope_scaling.original_max_position_embeddings.has_value());

  object["rope_scaling"] = {
      {"rope_type", "dynamic"}, {"factor", 4}, {"original_max_position_embeddings", 4096}};
  const ModelConfig dynamic = parse(object);
  EXPECT_EQ(dynamic.rope_scaling.type, "dynamic");
  EXPECT_DOUBLE_EQ(dynamic.rope_scaling.factor, 4.0);
  EXPECT_EQ(dynamic.rope_scaling.original_max_position_embeddings, 4096);
}

TEST(ModelConfig, RopeScalingYarnWithAllFields) {
  json object = minimal("Qwen2ForCausalLM");
  object["rope_scaling"] = {{"rope_type", "yarn"},
                            {"factor", 4.0},
                            {"original_max_position_embeddings", 32768},
                            {"attention_factor", 0.8},
                            {"beta_fast", 16},
                            {"beta_slow", 2},
                            {"mscale", 0.707},
                            {"mscale_all_dim", 1.0}};
  const auto& rope = parse(object).rope_scaling;
  EXPECT_EQ(rope.type, "yarn");
  EXPECT_DOUBLE_EQ(rope.factor, 4.0);
  EXPECT_EQ(rope.original_max_position_embeddings, 32768);
  ASSERT_TRUE(rope.attention_factor.has_value());
  EXPECT_DOUBLE_EQ(*rope.attention_factor, 0.8);
  EXPECT_DOUBLE_EQ(rope.beta_fast, 16.0);
  EXPECT_DOUBLE_EQ(rope.beta_slow, 2.0);
  ASSERT_TRUE(rope.mscale.has_value());
  EXPECT_DOUBLE_EQ(*rope.mscale, 0.707);
  ASSERT_TRUE(rope.mscale_all_dim.has_value());
  EXPECT_DOUBLE_EQ(*rope.mscale_all_dim, 1.0);
}

TEST(ModelConfig, RopeScalingYarnDefaults) {
  // Qwen2.5 long-context recipe: only type, factor and original length.
  json object = qwen25_7b();
  object["rope_scaling"] = {
      {"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  const auto& rope = parse(object).rope_scaling;
  EXPECT_EQ(rope.type, "yarn");
  EXPECT_FALSE(rope.attention_factor.has_value());
  EXPECT_DOUBLE_EQ(rope.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(rope.beta_slow, 1.0);
  EXPECT_FALSE(rope.mscale.has_value());
  EXPECT_FALSE(rope.mscale_all_dim.has_value());
}

TEST(ModelConfig, RopeScalingLegacyTypeKey) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {{"type", "linear"}, {"factor", 3.0}};
  const ModelConfig config = parse(object);
  EXPECT_EQ(config.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 3.0);
  // rope_type takes precedence over the legacy key.
  object["rope_scaling"] = {{"type", "dynamic"}, {"rope_type", "linear"}, {"factor", 3.0}};
  EXPECT_EQ(parse(object).rope_scaling.type, "linear");
}

TEST(ModelConfig, RopeScalingDefaultTypeIgnoresTheOtherFields) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {{"rope_type", "default"}, {"factor", 0.25}};
  const ModelConfig config = parse(object);
  EXPECT_EQ(config.rope_scaling.type, "default");
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 1.0);
}

TEST(ModelConfig, RopeParametersOfTransformers5) {
  json object = llama31_8b();
  object.erase("rope_scaling");
  object.erase("rope_theta");
  object["rope_parameters"] = {
      {"rope_type", "llama3"},   {"rope_theta", 500000.0},
      {"factor", 8.0},           {"low_freq_factor", 1.0},
      {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  const ModelConfig config = parse(object);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_EQ(config.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 8.0);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 8192);

  // Plain rope: rope_theta inside rope_parameters.
  json plain = minimal("Qwen3ForCausalLM");
  plain["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  EXPECT_DOUBLE_EQ(parse(plain).rope_theta, 1e6);
  EXPECT_EQ(parse(plain).rope_scaling.type, "default");

  // rope_parameters takes precedence over rope_scaling and the top-level rope_theta.
  plain["rope_theta"] = 10.0;
  plain["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  EXPECT_DOUBLE_EQ(parse(plain).rope_theta, 1e6);
  EXPECT_EQ(parse(plain).rope_scaling.type, "default");

  // Without rope_theta inside, the top-level value (or the family default) stays.
  plain["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  EXPECT_DOUBLE_EQ(parse(plain).rope_theta, 10.0);
  plain.erase("rope_theta");
  EXPECT_DOUBLE_EQ(parse(plain).rope_theta, 10000.0);
}

// ------------------------------------------------------------------------ sliding windows

TEST(ModelConfig, Qwen2WindowAppliesFromMaxWindowLayersWhenEnabled) {
  json object = qwen25_7b();
  object["use_sliding_window"] = true;
  object["sliding_window"] = 4096;
  object["max_window_layers"] = 20;
  const ModelConfig config = parse(object);
  EXPECT_TRUE(config.use_sliding_window);
  EXPECT_EQ(config.max_window_layers, 20);
  EXPECT_FALSE(config.window_of_layer(0).has_value());
  EXPECT_FALSE(config.window_of_layer(19).has_value());
  EXPECT_EQ(config.window_of_layer(20), 4096);
  EXPECT_EQ(config.window_of_layer(27), 4096);
}

TEST(ModelConfig, Qwen2MaxWindowLayersCoveringEveryLayerMeansFullAttention) {
  json object = qwen25_7b();
  object["use_sliding_window"] = true;  // but max_window_layers (28) == num_hidden_layers
  const ModelConfig config = parse(object);
  for (int64_t layer = 0; layer < 28; ++layer)
    EXPECT_FALSE(config.window_of_layer(layer).has_value()) << layer;
}

TEST(ModelConfig, Qwen2EnabledWindowWithNullSizeMeansFullAttention) {
  json object = qwen25_7b();
  object["use_sliding_window"] = true;
  object["max_window_layers"] = 0;
  object["sliding_window"] = nullptr;
  EXPECT_FALSE(parse(object).window_of_layer(5).has_value());
}

TEST(ModelConfig, LayerTypesChooseTheWindowedLayers) {
  json object = minimal("MistralForCausalLM");
  object["sliding_window"] = 512;
  object["layer_types"] = {"full_attention", "sliding_attention", "full_attention",
                           "sliding_attention"};
  const ModelConfig config = parse(object);
  EXPECT_EQ(config.layer_types.size(), 4u);
  EXPECT_FALSE(config.window_of_layer(0).has_value());
  EXPECT_EQ(config.window_of_layer(1), 512);
  EXPECT_FALSE(config.window_of_layer(2).has_value());
  EXPECT_EQ(config.window_of_layer(3), 512);
  // Outside the list: no window.
  EXPECT_FALSE(config.window_of_layer(4).has_value());
  EXPECT_FALSE(config.window_of_layer(-1).has_value());
}

TEST(ModelConfig, Qwen3LayerTypesOverrideMaxWindowLayers) {
  json object = minimal("Qwen3ForCausalLM");
  object["use_sliding_window"] = true;
  object["sliding_window"] = 1024;
  object["max_window_layers"] = 3;  // would window only layer 3
  object["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention",
                           "full_attention"};
  const ModelConfig config = parse(object);
  EXPECT_EQ(config.window_of_layer(0), 1024);
  EXPECT_FALSE(config.window_of_layer(1).has_value());
  EXPECT_EQ(config.window_of_layer(2), 1024);
  EXPECT_FALSE(config.window_of_layer(3).has_value());
}

TEST(ModelConfig, Qwen2LayerTypesNeedUseSlidingWindow) {
  // transformers' Qwen2Config/Qwen3Config drop sliding_window when use_sliding_window is false,
  // so "sliding_attention" entries then mean full attention.
  for (const char* architecture : {"Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
    SCOPED_TRACE(architecture);
    json object = minimal(architecture);
    object["sliding_window"] = 1024;
    object["use_sliding_window"] = false;
    object["layer_types"] = {"sliding_attention", "sliding_attention", "full_attention",
                             "sliding_attention"};
    const ModelConfig config = parse(object);
    for (int64_t layer = 0; layer < 4; ++layer)
      EXPECT_FALSE(config.window_of_layer(layer).has_value()) << layer;
  }
}

TEST(ModelConfig, LayerTypesWithoutWindowSizeMeanFullAttention) {
  json object = minimal("MistralForCausalLM");
  object["sliding_window"] = nullptr;
  object["layer_types"] = {"sliding_attention", "sliding_attention", "sliding_attention",
                           "sliding_attention"};
  EXPECT_FALSE(parse(object).window_of_layer(0).has_value());
}

// --------------------------------------------------------------------------------- errors

TEST(ModelConfigErrors, UnknownArchitectureListsTheSupportedOnes) {
  json object = minimal("LlamaForCausalLM");
  object["architectures"] = {"GPT2LMHeadModel"};
  EXPECT_ERROR_WITH(parse(object), kSource, "unsupported architecture", "'GPT2LMHeadModel'",
                    "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                    "Qwen3ForCausalLM");
}

TEST(ModelConfigErrors, MissingRequiredKeyIsNamed) {
  for (const std::string key : {"vocab_size", "hidden_size", "intermediate_size",
                                "num_hidden_layers", "num_attention_heads"}) {
    SCOPED_TRACE(key);
    json object = minimal("LlamaForCausalLM");
    object.erase(key);
    EXPECT_ERROR_WITH(parse(object), kSource, "missing required key", "'" + key + "'");
    // null counts as missing.
    object[key] = nullptr;
    EXPECT_ERROR_WITH(parse(object), kSource, "missing required key", "'" + key + "'");
  }
}

TEST(ModelConfigErrors, MissingArchitecturesListsTheSupportedOnes) {
  json object = minimal("LlamaForCausalLM");
  object.erase("architectures");
  EXPECT_ERROR_WITH(parse(object), kSource, "missing required key 'architectures'",
                    "LlamaForCausalLM", "Qwen3ForCausalLM");
}

TEST(ModelConfigErrors, ArchitecturesMustBeANonEmptyListOfNames) {
  for (const json& value : {json("LlamaForCausalLM"), json::array(), json::array({1}), json(3)}) {
    SCOPED_TRACE(value.dump());
    json object = minimal("LlamaForCausalLM");
    object["architectures"] = value;
    EXPECT_ERROR_WITH(parse(object), kSource, "'architectures'", "non-empty list");
  }
}

TEST(ModelConfigErrors, NotAnObject) {
  EXPECT_ERROR_WITH(parse(json::array({1, 2})), kSource, "expected a JSON object");
}

TEST(ModelConfigErrors, WrongTypesAreNamed) {
  json object = minimal("LlamaForCausalLM");
  object["hidden_size"] = "4096";
  EXPECT_ERROR_WITH(parse(object), kSource, "'hidden_size'", "positive integer", "\"4096\"");

  object = minimal("LlamaForCausalLM");
  object["num_attention_heads"] = -8;
  EXPECT_ERROR_WITH(parse(object), "'num_attention_heads'", "positive integer", "-8");

  object = minimal("LlamaForCausalLM");
  object["num_key_value_heads"] = 0;
  EXPECT_ERROR_WITH(parse(object), "'num_key_value_heads'", "positive integer", "0");

  object = minimal("LlamaForCausalLM");
  object["vocab_size"] = 1000.5;
  EXPECT_ERROR_WITH(parse(object), "'vocab_size'", "positive integer", "1000.5");

  object = minimal("LlamaForCausalLM");
  object["rms_norm_eps"] = "1e-5";
  EXPECT_ERROR_WITH(parse(object), "'rms_norm_eps'", "must be a number");

  object = minimal("LlamaForCausalLM");
  object["tie_word_embeddings"] = "true";
  EXPECT_ERROR_WITH(parse(object), "'tie_word_embeddings'", "true or false");

  object = minimal("LlamaForCausalLM");
  object["torch_dtype"] = 16;
  EXPECT_ERROR_WITH(parse(object), "'torch_dtype'", "must be a string");

  object = minimal("LlamaForCausalLM");
  object["bos_token_id"] = "1";
  EXPECT_ERROR_WITH(parse(object), "'bos_token_id'", "must be an integer");

  object = minimal("LlamaForCausalLM");
  object["eos_token_id"] = {1, "2"};
  EXPECT_ERROR_WITH(parse(object), "'eos_token_id'", "integers", "\"2\"");

  object = minimal("LlamaForCausalLM");
  object["eos_token_id"] = "2";
  EXPECT_ERROR_WITH(parse(object), "'eos_token_id'", "integer or a list of integers");
}

TEST(ModelConfigErrors, NonPositiveNumbers) {
  json object = minimal("LlamaForCausalLM");
  object["rms_norm_eps"] = 0;
  EXPECT_ERROR_WITH(parse(object), "'rms_norm_eps'", "positive");
  object = minimal("LlamaForCausalLM");
  object["rope_theta"] = -1.0;
  EXPECT_ERROR_WITH(parse(object), "'rope_theta'", "positive");
}

TEST(ModelConfigErrors, HeadsNotAMultipleOfKvHeads) {
  json object = minimal("LlamaForCausalLM");
  object["num_key_value_heads"] = 3;
  EXPECT_ERROR_WITH(parse(object), kSource, "num_attention_heads (8)",
                    "multiple of num_key_value_heads (3)");
}

TEST(ModelConfigErrors, HiddenNotDivisibleByHeadsWithoutHeadDim) {
  json object = minimal("LlamaForCausalLM");
  object["hidden_size"] = 250;
  EXPECT_ERROR_WITH(parse(object), kSource, "hidden_size (250)", "num_attention_heads (8)",
                    "'head_dim'");
  // With an explicit head_dim the division is not needed.
  object["head_dim"] = 32;
  EXPECT_EQ(parse(object).head_dim, 32);
}

TEST(ModelConfigErrors, OddHeadDim) {
  json object = minimal("LlamaForCausalLM");
  object["head_dim"] = 33;
  EXPECT_ERROR_WITH(parse(object), "'head_dim'", "even", "33");
}

TEST(ModelConfigErrors, UnsupportedHiddenAct) {
  json object = minimal("LlamaForCausalLM");
  object["hidden_act"] = "gelu";
  EXPECT_ERROR_WITH(parse(object), "'hidden_act'", "'silu'", "'gelu'");
}

TEST(ModelConfigErrors, UnknownRopeType) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 2.0}};
  EXPECT_ERROR_WITH(parse(object), kSource, "'rope_scaling.rope_type'", "'longrope'",
                    "default, linear, dynamic, yarn, llama3");
  object.erase("rope_scaling");
  object["rope_parameters"] = {{"rope_type", "su"}};
  EXPECT_ERROR_WITH(parse(object), "'rope_parameters.rope_type'", "'su'");
}

TEST(ModelConfigErrors, RopeScalingShape) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = "linear";
  EXPECT_ERROR_WITH(parse(object), "'rope_scaling'", "must be an object");
  object["rope_scaling"] = {{"factor", 2.0}};
  EXPECT_ERROR_WITH(parse(object), "'rope_scaling'", "no 'rope_type'");
  object["rope_scaling"] = {{"rope_type", 3}, {"factor", 2.0}};
  EXPECT_ERROR_WITH(parse(object), "'rope_scaling.rope_type'", "must be a string");
}

TEST(ModelConfigErrors, RopeScalingNeedsFactor) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {{"rope_type", "linear"}};
  EXPECT_ERROR_WITH(parse(object), "missing required key 'rope_scaling.factor'");
}

TEST(ModelConfigErrors, RopeFactorBelowOne) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 0.5}};
  EXPECT_ERROR_WITH(parse(object), "'rope_scaling.factor'", ">= 1", "0.5");
}

TEST(ModelConfigErrors, Llama3RopeMissingKeys) {
  for (const std::string key :
       {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
    SCOPED_TRACE(key);
    json object = llama31_8b();
    object["rope_scaling"].erase(key);
    EXPECT_ERROR_WITH(parse(object), kSource, "missing required key", "'rope_scaling." + key + "'");
  }
}

TEST(ModelConfigErrors, Llama3RopeFrequencyOrder) {
  json object = llama31_8b();
  object["rope_scaling"]["low_freq_factor"] = 4.0;
  object["rope_scaling"]["high_freq_factor"] = 4.0;
  EXPECT_ERROR_WITH(parse(object), "llama3", "low_freq_factor < high_freq_factor");
  object["rope_scaling"]["low_freq_factor"] = 0.0;
  EXPECT_ERROR_WITH(parse(object), "llama3", "0 < low_freq_factor");
}

TEST(ModelConfigErrors, RopeOriginalLengthMustBePositive) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {
      {"rope_type", "dynamic"}, {"factor", 2.0}, {"original_max_position_embeddings", 0}};
  EXPECT_ERROR_WITH(parse(object), "'rope_scaling.original_max_position_embeddings'", "positive");
}

TEST(ModelConfigErrors, YarnBetas) {
  json object = minimal("LlamaForCausalLM");
  object["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 2.0}, {"beta_fast", 1.0}};
  EXPECT_ERROR_WITH(parse(object), "yarn", "beta_fast > beta_slow");
  object["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 2.0}, {"attention_factor", -1}};
  EXPECT_ERROR_WITH(parse(object), "'rope_scaling.attention_factor'", ">= 0");
}

TEST(ModelConfigErrors, BadDtypeNamesTheKeyUsed) {
  json object = minimal("LlamaForCausalLM");
  object["torch_dtype"] = "float8";
  EXPECT_ERROR_WITH(parse(object), kSource, "'torch_dtype'", "'float8'",
                    "bfloat16, float16 or float32");
  object.erase("torch_dtype");
  object["dtype"] = "auto";
  EXPECT_ERROR_WITH(parse(object), kSource, "'dtype'", "'auto'");
}

TEST(ModelConfigErrors, TokenIdsOutsideTheVocabulary) {
  json object = minimal("LlamaForCausalLM");
  object["eos_token_id"] = {2, 1000};
  EXPECT_ERROR_WITH(parse(object), kSource, "'eos_token_id'", "id 1000",
                    "outside the vocabulary [0, 1000)");
  object["eos_token_id"] = -1;
  EXPECT_ERROR_WITH(parse(object), "'eos_token_id'", "id -1");
  object["eos_token_id"] = 2;
  object["bos_token_id"] = 5000;
  EXPECT_ERROR_WITH(parse(object), "'bos_token_id'", "id 5000");
}

TEST(ModelConfigErrors, BadSlidingWindowAndLayerTypes) {
  json object = minimal("MistralForCausalLM");
  object["sliding_window"] = 0;
  EXPECT_ERROR_WITH(parse(object), "'sliding_window'", "positive integer");

  object = minimal("MistralForCausalLM");
  object["layer_types"] = {"full_attention"};
  EXPECT_ERROR_WITH(parse(object), "'layer_types'", "one type per layer (4)");

  object["layer_types"] = {"full_attention", "full_attention", "local", "full_attention"};
  EXPECT_ERROR_WITH(parse(object), "'layer_types'", "\"local\"");
}

// ------------------------------------------------------------------------------------ files

TEST(ModelConfigFile, LoadsFromTheFileOrItsDirectory) {
  TempDir dir;
  const std::string file = write(dir, "config.json", qwen25_7b().dump(2));
  const ModelConfig from_file = load_model_config(file);
  EXPECT_EQ(from_file.source, file);
  EXPECT_EQ(from_file.architecture, "Qwen2ForCausalLM");
  const ModelConfig from_dir = load_model_config(dir.path());
  EXPECT_EQ(from_dir.source, file);
  EXPECT_EQ(from_dir.hidden_size, 3584);
  EXPECT_EQ(from_dir.raw, qwen25_7b());
}

TEST(ModelConfigFile, ErrorsNameTheFileTheyCameFrom) {
  TempDir dir;
  json object = minimal("LlamaForCausalLM");
  object.erase("vocab_size");
  const std::string file = write(dir, "config.json", object.dump());
  EXPECT_ERROR_WITH(load_model_config(dir.path()), file, "'vocab_size'");
}

TEST(ModelConfigFile, DirectoryWithoutConfigJson) {
  TempDir dir;
  write(dir, "model.safetensors", "");
  EXPECT_ERROR_WITH(load_model_config(dir.path()), dir.file("config.json"), "not found");
}

TEST(ModelConfigFile, MissingFile) {
  TempDir dir;
  const std::string file = dir.file("nope.json");
  EXPECT_ERROR_WITH(load_model_config(file), file, "not found");
}

TEST(ModelConfigFile, MalformedJsonNamesTheFile) {
  TempDir dir;
  const std::string file = write(dir, "config.json", "{\n  \"vocab_size\": 10,\n  oops\n}\n");
  EXPECT_ERROR_WITH(load_model_config(dir.path()), file, "not valid JSON");
  const std::string empty = write(dir, "empty.json", "");
  EXPECT_ERROR_WITH(load_model_config(empty), empty, "not valid JSON");
}

}  // namespace

namespace {

TEST(ModelConfig, QwenMaxWindowLayersDefaultsToTheClassDefault) {
  json object = minimal("Qwen2ForCausalLM");
  object["num_hidden_layers"] = 32;
  object["use_sliding_window"] = true;
  object["sliding_window"] = 1024;
  const ModelConfig config = parse(object);
  EXPECT_EQ(config.max_window_layers, 28);  // transformers' Qwen2Config default
  EXPECT_FALSE(config.window_of_layer(27).has_value());
  EXPECT_EQ(config.window_of_layer(28), 1024);
}

TEST(ModelConfig, LlamaIgnoresSlidingWindowLikeTransformers) {
  json object = minimal("LlamaForCausalLM");
  object["sliding_window"] = 256;
  EXPECT_FALSE(parse(object).window_of_layer(0).has_value());
}

}  // namespace

TEST(TorchDtypeNames, RoundTripAndTransformersSpellings) {
  for (auto type : {c10::kBFloat16, c10::kHalf, c10::kFloat}) {
    EXPECT_EQ(slim::io::parse_torch_dtype_name(slim::io::torch_dtype_name(type)), type);
  }
  EXPECT_EQ(slim::io::parse_torch_dtype_name("torch.bfloat16"), c10::kBFloat16);
  EXPECT_EQ(slim::io::parse_torch_dtype_name("half"), c10::kHalf);
  EXPECT_EQ(slim::io::parse_torch_dtype_name("float"), c10::kFloat);
  EXPECT_FALSE(slim::io::parse_torch_dtype_name("int8").has_value());
  EXPECT_FALSE(slim::io::parse_torch_dtype_name("").has_value());
  EXPECT_THROW(slim::io::torch_dtype_name(c10::kDouble), slim::Error);
}
