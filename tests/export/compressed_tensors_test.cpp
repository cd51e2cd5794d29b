// compressed-tensors checkpoints (slim/export/compressed_tensors.h, schema of compressed-tensors
// 0.20.0): golden tensors and quantization_config on hand-computed examples (int32 packing of
// int4 / int8 codes and zero-points, E4M3 bytes), config groups and ignore, round trips through
// the reader, a checkpoint in llm-compressor's own style, sharding, copied files, atomic output
// and refusals.
#include "slim/export/compressed_tensors.h"
#include "slim/quant/deployed_forms.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "export/quant_format_common.h"
#include "slim/core/files.h"
#include "slim/io/safetensors.h"
#include "slim/quant/numerics.h"
#include "support/deployed_records.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using slim::exporter::compressed_tensors_scheme;
using slim::exporter::compressed_tensors_tensors;
using slim::exporter::CompressedTensorsReader;
using slim::exporter::CompressedTensorsSaveOptions;
using slim::exporter::CompressedTensorsSaver;
using slim::quant::DeployedLinear;
using slim::quant::DeployedTag;
using slim::quant::QDtype;
using slim::quant::QScope;
using slim::testing::qscheme;
using slim::testing::random_linear;
using slim::testing::RandomLinearOptions;
using slim::testing::same_bits;
using slim::testing::schemes_for;
using slim::testing::TempDir;

const std::string kQ = "model.layers.0.self_attn.q_proj";

DeployedLinear hand_linear(DeployedTag tag) {
  DeployedLinear linear;
  linear.name = kQ;
  linear.tag = tag;
  std::tie(linear.act, linear.weight) = schemes_for(tag);
  return linear;
}

std::map<std::string, slim::exporter::CompressedTensorsTensor> by_name(
    const std::vector<slim::exporter::CompressedTensorsTensor>& tensors) {
  std::map<std::string, slim::exporter::CompressedTensorsTensor> out;
  for (const auto& tensor : tensors)
    out[tensor.name] = tensor;
  return out;
}

std::vector<std::string> names_of(
    const std::vector<slim::exporter::CompressedTensorsTensor>& tensors) {
  std::vector<std::string> out;
  for (const auto& tensor : tensors) {
    std::string shape;
    for (int64_t d : tensor.tensor.sizes())
      shape += (shape.empty() ? "" : ",") + std::to_string(d);
    out.push_back(tensor.name + ":" + tensor.dtype + ":[" + shape + "]");
  }
  return out;
}

template <typename T>
std::vector<T> values(const at::Tensor& tensor) {
  const at::Tensor flat = tensor.contiguous().view(-1);
  return std::vector<T>(flat.data_ptr<T>(), flat.data_ptr<T>() + flat.numel());
}

CompressedTensorsSaveOptions options_for(const std::string& path) {
  CompressedTensorsSaveOptions options;
  options.save_path = path;
  return options;
}

json args(int bits, const std::string& type, bool symmetric, const std::string& strategy,
          json group_size, bool dynamic, json observer) {
  return {{"num_bits", bits},       {"type", type},
          {"symmetric", symmetric}, {"group_size", group_size},
          {"strategy", strategy},   {"block_structure", nullptr},
          {"dynamic", dynamic},     {"actorder", nullptr},
          {"observer", observer},   {"observer_kwargs", json::object()}};
}

// --------------------------------------------------------------------------- golden tensors

TEST(CompressedTensors, W8A8StaticGolden) {
  DeployedLinear linear = hand_linear(DeployedTag::W8A8);
  linear.act = qscheme(QDtype::Int8, QScope::PerTensor, false);
  linear.weight_codes = at::tensor({1, -2, 3, -4, 5, 6, -7, 8}, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.weight_offset = at::zeros({2, 1});
  linear.input_scale = at::tensor({0.125f});
  linear.input_offset = at::tensor({3.0f});
  linear.bias = at::tensor({1.0f, 2.0f}).to(at::kBFloat16);
  const auto tensors = compressed_tensors_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{kQ + ".weight:I8:[2,4]", kQ + ".weight_scale:F32:[2,1]",
                                      kQ + ".input_scale:F32:[1]", kQ + ".input_zero_point:I8:[1]",
                                      kQ + ".bias:BF16:[2]"}));
  auto t = by_name(tensors);
  EXPECT_EQ(values<int8_t>(t[kQ + ".input_zero_point"].tensor), (std::vector<int8_t>{3}));
  EXPECT_EQ(
      compressed_tensors_scheme(linear),
      json({{"targets", json::array()},
            {"weights", args(8, "int", true, "channel", nullptr, false, "memoryless_minmax")},
            {"input_activations", args(8, "int", false, "tensor", nullptr, false, "static_minmax")},
            {"output_activations", nullptr},
            {"format", "int-quantized"}}));
  // Symmetric activations: no zero-point tensor.
  linear.act.symmetric = true;
  linear.input_offset = at::zeros({1});
  EXPECT_EQ(by_name(compressed_tensors_tensors(linear)).count(kQ + ".input_zero_point"), 0u);
}

TEST(CompressedTensors, W8A8DynamicGolden) {
  DeployedLinear linear = hand_linear(DeployedTag::W8A8Dynamic);
  linear.weight_codes = at::tensor({1, -2, 3, -4, 5, 6, -7, 8}, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.weight_offset = at::zeros({2, 1});
  EXPECT_EQ(names_of(compressed_tensors_tensors(linear)),
            (std::vector<std::string>{kQ + ".weight:I8:[2,4]", kQ + ".weight_scale:F32:[2,1]"}));
  const json scheme = compressed_tensors_scheme(linear);
  EXPECT_EQ(scheme["input_activations"], args(8, "int", true, "token", nullptr, true, nullptr));
  EXPECT_EQ(scheme["format"], "int-quantized");
}

TEST(CompressedTensors, W4A16PackQuantizedGolden) {
  // codes + 8, eight per int32 from the low nibble up:
  // [1,-2,3,-4,5,-6,7,-8] -> 254626665; [0,1,2,3,-1,-2,-3,7] -> 0xF567BA98 = -177751400.
  // Zero-points [[1,-1],[0,3]] packed down the output dim: 1+8 | (0+8) << 4 = 137,
  // -1+8 | (3+8) << 4 = 183.
  DeployedLinear linear = hand_linear(DeployedTag::W4A16);
  linear.weight = qscheme(QDtype::Int4, QScope::PerGroup, false, 4);
  linear.weight_codes =
      at::tensor({1, -2, 3, -4, 5, -6, 7, -8, 0, 1, 2, 3, -1, -2, -3, 7}, at::kChar)
          .reshape({2, 8});
  linear.weight_scale = at::tensor({0.5f, 0.25f, 1.0f, 2.0f}).reshape({2, 2});
  linear.weight_offset = at::tensor({1.0f, -1.0f, 0.0f, 3.0f}).reshape({2, 2});
  const auto tensors = compressed_tensors_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{kQ + ".weight_packed:I32:[2,1]",
                                      kQ + ".weight_scale:F32:[2,2]", kQ + ".weight_shape:I64:[2]",
                                      kQ + ".weight_zero_point:I32:[1,2]"}));
  auto t = by_name(tensors);
  EXPECT_EQ(values<int32_t>(t[kQ + ".weight_packed"].tensor),
            (std::vector<int32_t>{254626665, -177751400}));
  EXPECT_EQ(values<int64_t>(t[kQ + ".weight_shape"].tensor), (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(values<int32_t>(t[kQ + ".weight_zero_point"].tensor), (std::vector<int32_t>{137, 183}));
  EXPECT_EQ(compressed_tensors_scheme(linear),
            json({{"targets", json::array()},
                  {"weights", args(4, "int", false, "group", 4, false, "memoryless_minmax")},
                  {"input_activations", nullptr},
                  {"output_activations", nullptr},
                  {"format", "pack-quantized"}}));
}

TEST(CompressedTensors, W8A16PacksFourBytesPerWord) {
  // [1,-2,3,-4] + 128 = [129,126,131,124] -> 0x7C837E81 = 2088992385;
  // [5,6,-7,8] + 128 = [133,134,121,136] -> 0x88798685 = -2005301627.
  DeployedLinear linear = hand_linear(DeployedTag::W8A16);
  linear.weight_codes = at::tensor({1, -2, 3, -4, 5, 6, -7, 8}, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.weight_offset = at::zeros({2, 1});
  const auto tensors = compressed_tensors_tensors(linear);
  EXPECT_EQ(names_of(tensors), (std::vector<std::string>{kQ + ".weight_packed:I32:[2,1]",
                                                         kQ + ".weight_scale:F32:[2,1]",
                                                         kQ + ".weight_shape:I64:[2]"}));
  EXPECT_EQ(values<int32_t>(by_name(tensors)[kQ + ".weight_packed"].tensor),
            (std::vector<int32_t>{2088992385, -2005301627}));
  EXPECT_EQ(compressed_tensors_scheme(linear)["weights"],
            args(8, "int", true, "channel", nullptr, false, "memoryless_minmax"));
}

TEST(CompressedTensors, PackingPadsThePackedDim) {
  // 9 int4 values need two words; the second holds one value (+8) and zero padding.
  const at::Tensor codes = at::tensor({0, 0, 0, 0, 0, 0, 0, 0, -3}, at::kChar).reshape({1, 9});
  const at::Tensor packed = slim::exporter::detail::pack_int32(codes, 4, 1);
  EXPECT_EQ(values<int32_t>(packed), (std::vector<int32_t>{-2004318072, 5}));  // 0x88888888, 5
  EXPECT_TRUE(same_bits(slim::exporter::detail::unpack_int32(packed, 4, 9, 1), codes));
  const at::Tensor column = codes.t().contiguous();
  EXPECT_TRUE(same_bits(slim::exporter::detail::unpack_int32(
                            slim::exporter::detail::pack_int32(column, 4, 0), 4, 9, 0),
                        column));
}

TEST(CompressedTensors, Fp8DynamicGolden) {
  DeployedLinear linear = hand_linear(DeployedTag::WFp8AFp8Dynamic);
  linear.weight_codes =
      at::tensor({1.0f, -0.5f, 448.0f, 0.015625f, 0.001953125f, -3.5f, 0.0f, 240.0f})
          .reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  const auto tensors = compressed_tensors_tensors(linear);
  EXPECT_EQ(names_of(tensors), (std::vector<std::string>{kQ + ".weight:F8_E4M3:[2,4]",
                                                         kQ + ".weight_scale:F32:[2,1]"}));
  EXPECT_EQ(values<uint8_t>(by_name(tensors)[kQ + ".weight"].tensor),
            (std::vector<uint8_t>{0x38, 0xB0, 0x7E, 0x08, 0x01, 0xC6, 0x00, 0x77}));
  EXPECT_EQ(
      compressed_tensors_scheme(linear),
      json({{"targets", json::array()},
            {"weights", args(8, "float", true, "channel", nullptr, false, "memoryless_minmax")},
            {"input_activations", args(8, "float", true, "token", nullptr, true, nullptr)},
            {"output_activations", nullptr},
            {"format", "float-quantized"}}));
}

// ------------------------------------------------------------------------ the saved directory

TEST(CompressedTensors, ConfigJsonGolden) {
  TempDir dir;
  const std::string model = dir.file("model");
  fs::create_directories(model);
  slim::write_file(model + "/config.json",
                   R"({"torch_dtype": "bfloat16", "architectures": ["LlamaForCausalLM"],)"
                   R"( "quantization_config": {"quant_method": "fp8"}, "text_config": )"
                   R"({"quantization_config": {}, "b": 2}})");
  slim::write_file(model + "/tokenizer.json", "{}");
  slim::write_file(model + "/tokenizer.model", "spm");
  slim::write_file(model + "/model.safetensors.index.json", "{}");
  CompressedTensorsSaveOptions options = options_for(dir.file("out"));
  options.model_path = model;
  CompressedTensorsSaver saver(options);
  saver.add_float("model.embed_tokens.weight", at::ones({4, 8}, at::kBFloat16));
  RandomLinearOptions small;
  small.out = 4;
  small.in = 8;
  saver.add_linear(random_linear(DeployedTag::W8A8Dynamic, kQ, small));
  DeployedLinear excluded =
      random_linear(DeployedTag::Float, "model.layers.0.mlp.down_proj", small);
  saver.add_linear(excluded);
  saver.add_float_linear("model.layers.0.mlp.up_proj", at::ones({4, 8}, at::kBFloat16),
                         std::nullopt);
  saver.add_float("model.norm.weight", at::ones({8}, at::kBFloat16));
  saver.add_float("lm_head.weight", at::ones({4, 8}, at::kBFloat16));
  EXPECT_EQ(saver.finish(), (std::vector<std::string>{"config.json", "model.safetensors",
                                                      "tokenizer.json", "tokenizer.model"}));
  const json config = json::parse(slim::read_file(dir.file("out/config.json")));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  EXPECT_EQ(config["text_config"], json({{"b", 2}}));
  const json expected = {
      {"config_groups",
       {{"group_0",
         {{"targets", {"Linear"}},
          {"weights", args(8, "int", true, "channel", nullptr, false, "memoryless_minmax")},
          {"input_activations", args(8, "int", true, "token", nullptr, true, nullptr)},
          {"output_activations", nullptr},
          {"format", "int-quantized"}}}}},
      {"format", "int-quantized"},
      {"global_compression_ratio", nullptr},
      {"ignore", {"model.layers.0.mlp.down_proj", "model.layers.0.mlp.up_proj", "lm_head"}},
      {"kv_cache_scheme", nullptr},
      {"moe_sparsity_config", nullptr},
      {"quant_method", "compressed-tensors"},
      {"quantization_status", "compressed"},
      {"sparsity_config", json::object()},
      {"transform_config", json::object()},
      {"version", "0.20.0"}};
  EXPECT_EQ(config["quantization_config"], expected) << config["quantization_config"].dump(2);
  // Sorted keys, indent 2, as compressed-tensors' update_config writes.
  EXPECT_EQ(slim::read_file(dir.file("out/config.json")), config.dump(2));
  const auto file = slim::io::SafetensorsFile::open(dir.file("out/model.safetensors"));
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->info("model.layers.0.mlp.down_proj.weight").dtype, slim::io::Dtype::F32);
}

TEST(CompressedTensors, SeveralSchemesTargetModulesByName) {
  TempDir dir;
  CompressedTensorsSaver saver(options_for(dir.file("out")));
  RandomLinearOptions grouped;
  grouped.group_size = 32;
  saver.add_linear(random_linear(DeployedTag::W4A16, "model.layers.0.mlp.up_proj", grouped));
  saver.add_linear(random_linear(DeployedTag::W8A16, "model.layers.0.mlp.down_proj"));
  saver.add_linear(random_linear(DeployedTag::W4A16, "model.layers.1.mlp.up_proj", grouped));
  saver.add_linear(random_linear(DeployedTag::WFp8AFp8Dynamic, "model.layers.1.mlp.down_proj"));
  const json config = saver.quantization_config();
  ASSERT_EQ(config["config_groups"].size(), 3u);
  EXPECT_EQ(config["config_groups"]["group_0"]["targets"],
            json({"model.layers.0.mlp.up_proj", "model.layers.1.mlp.up_proj"}));
  EXPECT_EQ(config["config_groups"]["group_1"]["targets"], json({"model.layers.0.mlp.down_proj"}));
  EXPECT_EQ(config["config_groups"]["group_2"]["format"], "float-quantized");
  EXPECT_EQ(config["format"], "mixed-precision");
  saver.finish();
}

TEST(CompressedTensors, ShardsLikeTransformers) {
  TempDir dir;
  CompressedTensorsSaveOptions options = options_for(dir.file("out"));
  options.max_shard_bytes = 1000;
  CompressedTensorsSaver saver(options);
  saver.add_float("a", at::ones({200}));  // 800 bytes
  saver.add_float("b", at::ones({50}));   // 200 bytes: 1000 fits
  saver.add_float("c", at::ones({1}));    // would exceed: next shard
  EXPECT_EQ(saver.finish(),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors",
                                      "model.safetensors.index.json"}));
  const json index = json::parse(slim::read_file(dir.file("out/model.safetensors.index.json")));
  EXPECT_EQ(index["weight_map"]["b"], "model-00001-of-00002.safetensors");
  EXPECT_EQ(index["weight_map"]["c"], "model-00002-of-00002.safetensors");
}

// ------------------------------------------------------------------------------ round trips

void expect_same_record(const DeployedLinear& saved, const DeployedLinear& loaded) {
  SCOPED_TRACE(saved.name + " " + tag_name(saved.tag));
  EXPECT_EQ(loaded.tag, saved.tag);
  EXPECT_EQ(loaded.act, saved.act) << loaded.act.to_string() << " vs " << saved.act.to_string();
  EXPECT_EQ(loaded.weight, saved.weight)
      << loaded.weight.to_string() << " vs " << saved.weight.to_string();
  EXPECT_TRUE(same_bits(loaded.weight_codes, saved.weight_codes));
  EXPECT_TRUE(same_bits(loaded.weight_scale, saved.weight_scale));
  EXPECT_TRUE(same_bits(loaded.weight_offset, saved.weight_offset));
  EXPECT_TRUE(same_bits(loaded.input_scale, saved.input_scale));
  EXPECT_TRUE(same_bits(loaded.input_offset, saved.input_offset));
  ASSERT_EQ(loaded.bias.has_value(), saved.bias.has_value());
  if (saved.bias) {
    EXPECT_TRUE(same_bits(*loaded.bias, *saved.bias));  // original dtype kept
  }
  EXPECT_TRUE(same_bits(slim::testing::dequantized(loaded), slim::testing::dequantized(saved)));
}

TEST(CompressedTensors, EverySupportedTagRoundTripsBitForBit) {
  struct Case {
    DeployedTag tag;
    int64_t group_size;
    bool asym;
    int64_t in;
  };
  const std::vector<Case> cases = {
      {DeployedTag::W8A8, 0, false, 64},
      {DeployedTag::W8A8, 0, true, 64},
      {DeployedTag::W8A8Dynamic, 0, false, 64},
      {DeployedTag::W8A16, 0, false, 64},
      {DeployedTag::W8A16, 16, true, 64},
      {DeployedTag::W4A16, 0, true, 60},
      {DeployedTag::W4A16, 32, false, 64},
      {DeployedTag::W4A16, 16, true, 48},
      {DeployedTag::WFp8AFp8Dynamic, 0, false, 64},
  };
  TempDir dir;
  const std::string out = dir.file("out");
  CompressedTensorsSaveOptions options = options_for(out);
  options.max_shard_bytes = 2000;
  CompressedTensorsSaver saver(options);
  saver.add_float("model.embed_tokens.weight", at::randn({16, 64}).to(at::kBFloat16));
  std::vector<DeployedLinear> saved;
  for (size_t i = 0; i < cases.size(); ++i) {
    RandomLinearOptions linear_options;
    linear_options.group_size = cases[i].group_size;
    linear_options.asym = cases[i].asym;
    linear_options.in = cases[i].in;
    linear_options.out = 9;  // odd: zero-points pad the packed output dim
    linear_options.model_dtype = at::kBFloat16;
    linear_options.bias_dtype = at::kBFloat16;
    linear_options.seed = 200 + i;
    saved.push_back(random_linear(
        cases[i].tag, "model.layers." + std::to_string(i) + ".mlp.up_proj", linear_options));
    saver.add_linear(saved.back());
  }
  saver.add_float("lm_head.weight", at::randn({16, 64}).to(at::kBFloat16));
  saver.finish();

  slim::write_file(out + "/config.json", [&] {
    json config = json::parse(slim::read_file(out + "/config.json"));
    config["torch_dtype"] = "bfloat16";
    return config.dump(2);
  }());
  const CompressedTensorsReader reader(out);
  EXPECT_EQ(reader.model_dtype(), at::kBFloat16);
  ASSERT_EQ(reader.linears().size(), saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    EXPECT_EQ(reader.linears()[i], saved[i].name);
    expect_same_record(saved[i], reader.linear(saved[i].name));
  }
  EXPECT_EQ(reader.float_tensors(),
            (std::vector<std::string>{"model.embed_tokens.weight", "lm_head.weight"}));
}

// Quantize a random bf16 layer (quant::deploy_linear), save, load, dequantize: bit for bit the
// in-memory fake-quantized weight (quant::fake_quantize_weight).
TEST(CompressedTensors, QuantizedLayersRoundTripToTheFakeQuantizedWeight) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(22);
  TempDir dir;
  const std::string out = dir.file("out");
  CompressedTensorsSaver saver(options_for(out));
  std::vector<std::tuple<DeployedLinear, at::Tensor>> saved;
  // Every form of the deployed-form table that a scheme pair selects and the format holds (the
  // refusals: quantized_saver_test).
  for (const slim::quant::DeployedForm& form :
       slim::testing::held_forms(saver, slim::testing::selectable_forms(32, false))) {
    const std::string name = "model.layers." + std::to_string(saved.size()) + ".mlp.gate_proj";
    const at::Tensor weight = at::randn({10, 96}, gen).to(at::kBFloat16);
    const DeployedLinear linear =
        slim::quant::deploy_linear(name, weight, std::nullopt, form.act, form.weight,
                                   slim::testing::fixed_act_params(form), at::kBFloat16);
    ASSERT_EQ(linear.form(), form);
    saver.add_linear(linear);
    saved.emplace_back(linear, slim::quant::fake_quantize_weight(name, weight, form.weight));
  }
  EXPECT_GT(saved.size(), 10u);
  saver.finish();
  const CompressedTensorsReader reader(out, at::kBFloat16);
  for (const auto& [linear, fake_quantized] : saved) {
    SCOPED_TRACE(linear.name + " " + tag_name(linear.tag));
    const DeployedLinear loaded = reader.linear(linear.name);
    expect_same_record(linear, loaded);
    EXPECT_TRUE(same_bits(slim::quant::dequantize_weight(loaded, at::kBFloat16), fake_quantized));
  }
}

TEST(CompressedTensors, ReadsLlmCompressorStyleCheckpoints) {
  // As llm-compressor writes them: bf16 scales, a "Linear" target with an ignore list, int8
  // zero-points for int-quantized layers, a per-tensor weight scale.
  TempDir dir;
  const std::string out = dir.file("ckpt");
  fs::create_directories(out);
  const json config = {
      {"torch_dtype", "bfloat16"},
      {"quantization_config",
       {{"quant_method", "compressed-tensors"},
        {"format", "int-quantized"},
        {"quantization_status", "compressed"},
        {"ignore", {"lm_head", "re:.*down_proj$"}},
        {"config_groups",
         {{"group_0",
           {{"targets", {"Linear"}},
            {"weights",
             {{"num_bits", 8}, {"type", "int"}, {"symmetric", true}, {"strategy", "tensor"}}},
            {"input_activations",
             {{"num_bits", 8},
              {"type", "int"},
              {"symmetric", false},
              {"strategy", "tensor"},
              {"dynamic", false}}}}}}}}}};
  slim::write_file(out + "/config.json", config.dump());
  slim::io::SafetensorsWriter writer(out);
  writer.add("model.layers.0.mlp.up_proj.weight",
             at::tensor({1, 2, 3, 4, 5, 6, 7, 8}, at::kChar).reshape({2, 4}));
  writer.add("model.layers.0.mlp.up_proj.weight_scale", at::tensor({0.5f}).to(at::kBFloat16));
  writer.add("model.layers.0.mlp.up_proj.input_scale", at::tensor({0.25f}).to(at::kBFloat16));
  writer.add("model.layers.0.mlp.up_proj.input_zero_point", at::tensor({-3}, at::kChar));
  writer.add("model.layers.0.mlp.down_proj.weight", at::ones({4, 2}, at::kBFloat16));
  writer.finish();
  const CompressedTensorsReader reader(out);
  EXPECT_EQ(reader.linears(), (std::vector<std::string>{"model.layers.0.mlp.up_proj"}));
  EXPECT_EQ(reader.float_tensors(),
            (std::vector<std::string>{"model.layers.0.mlp.down_proj.weight"}));
  const DeployedLinear linear = reader.linear("model.layers.0.mlp.up_proj");
  EXPECT_EQ(linear.tag, DeployedTag::W8A8);
  EXPECT_EQ(linear.act, qscheme(QDtype::Int8, QScope::PerTensor, false));
  EXPECT_EQ(linear.model_dtype, at::kBFloat16);
  EXPECT_EQ(values<float>(linear.weight_scale), (std::vector<float>{0.5f, 0.5f}));
  EXPECT_EQ(values<float>(linear.input_offset), (std::vector<float>{-3.0f}));
  EXPECT_EQ(values<float>(linear.input_scale), (std::vector<float>{0.25f}));
}

// ----------------------------------------------------------------- atomic output, bad input

TEST(CompressedTensors, RefusesUnsupportedFormsListingTheSupportedOnes) {
  for (DeployedTag tag : {DeployedTag::W4A8Dynamic, DeployedTag::W8A8Mix, DeployedTag::W4A4Dynamic,
                          DeployedTag::W8A8MxFp8, DeployedTag::W4A8MxFp, DeployedTag::W4A4MxFp4,
                          DeployedTag::W16A16S}) {
    const DeployedLinear linear = random_linear(tag, "model.layers.4.mlp.gate_proj");
    EXPECT_ERROR_WITH(compressed_tensors_tensors(linear), "'model.layers.4.mlp.gate_proj'",
                      tag_name(tag), "W8A8_DYNAMIC", "W4A16", "WFP8AFP8_DYNAMIC");
  }
  RandomLinearOptions grouped;
  grouped.group_size = 16;
  const DeployedLinear per_group =
      random_linear(DeployedTag::W8A8Dynamic, "model.layers.4.mlp.up_proj", grouped);
  EXPECT_ERROR_WITH(compressed_tensors_tensors(per_group), "'model.layers.4.mlp.up_proj'",
                    "per-channel", "per_group(16)");
}

TEST(CompressedTensors, NonIntegralZeroPointsAreRefused) {
  RandomLinearOptions options;
  options.asym = true;
  DeployedLinear linear = random_linear(DeployedTag::W4A16, "model.layers.5.mlp.up_proj", options);
  linear.weight_offset[0][0] = 0.5f;
  EXPECT_ERROR_WITH(compressed_tensors_tensors(linear), "'model.layers.5.mlp.up_proj'",
                    "weight_offset", "integers");
}

TEST(CompressedTensors, InvalidRecordsNameTheLinear) {
  DeployedLinear linear = random_linear(DeployedTag::W8A16, "model.layers.6.self_attn.o_proj");
  linear.weight_offset = at::ones({8, 2});
  EXPECT_ERROR_WITH(compressed_tensors_tensors(linear), "'model.layers.6.self_attn.o_proj'",
                    "weight_offset", "[8, 1]");
}

TEST(CompressedTensors, RefusesNonEmptySavePathAndLeavesNothingOnFailure) {
  TempDir dir;
  const std::string out = dir.file("out");
  fs::create_directories(out);
  slim::write_file(out + "/x", "x");
  EXPECT_ERROR_WITH(CompressedTensorsSaver saver(options_for(out)), "not empty", "--overwrite");
  fs::remove_all(out);
  {
    CompressedTensorsSaveOptions options = options_for(out);
    options.max_shard_bytes = 100;
    CompressedTensorsSaver saver(options);
    saver.add_linear(random_linear(DeployedTag::W8A16, "a"));
    saver.add_linear(random_linear(DeployedTag::W8A16, "b"));
    EXPECT_ERROR_WITH(saver.add_linear(random_linear(DeployedTag::W4A8Dynamic, "c")), "'c'");
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(CompressedTensors, ReaderRejectsWhatItCannotLoad) {
  TempDir dir;
  EXPECT_ERROR_WITH(CompressedTensorsReader reader(dir.path()), "config.json");
  slim::write_file(dir.file("config.json"), R"({"quantization_config": {"quant_method": "awq"}})");
  EXPECT_ERROR_WITH(CompressedTensorsReader reader(dir.path()), "awq", "compressed-tensors");
}

}  // namespace
