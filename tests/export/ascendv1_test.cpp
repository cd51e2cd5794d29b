// The msModelSlim Ascend V1 format (slim/export/ascendv1.h, spec msmodelslim-v1.md §7): golden
// tensors and description keys on hand-computed 2x4 examples, deq_scale / quant_bias (§7.5)
// including the int64 encoding and half-to-even rounding, the W8A8 integer path, int4 / E2M1 /
// E4M3 packing (§7.6), sharding (§7.1), copied files, round trips of every tag through the
// reader, atomic output and bad input.
#include "slim/export/ascendv1.h"
#include "slim/quant/deployed_forms.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
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
#include "support/expect_records.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using slim::exporter::ascendv1_tensors;
using slim::exporter::AscendV1Reader;
using slim::exporter::AscendV1SaveOptions;
using slim::exporter::AscendV1Saver;
using slim::quant::DeployedLinear;
using slim::quant::DeployedTag;
using slim::quant::QDtype;
using slim::quant::QScope;
using slim::testing::expect_same_record;
using slim::testing::qscheme;
using slim::testing::random_linear;
using slim::testing::RandomLinearOptions;
using slim::testing::same_bits;
using slim::testing::schemes_for;
using slim::testing::TempDir;

const std::string kQ = "model.layers.0.self_attn.q_proj";

DeployedLinear hand_linear(DeployedTag tag, const std::string& name = kQ) {
  DeployedLinear linear;
  linear.name = name;
  linear.tag = tag;
  std::tie(linear.act, linear.weight) = schemes_for(tag);
  return linear;
}

// The 2x4 W8A8 example of the tests: q_w = [[1, -2, 3, -4], [5, 6, -7, 8]], s_w = [0.5, 0.25],
// s_x = 0.125, z_x = 3, bias = [0.03125, -2].
DeployedLinear w8a8_example(at::ScalarType model_dtype) {
  DeployedLinear linear = hand_linear(DeployedTag::W8A8);
  linear.act = qscheme(QDtype::Int8, QScope::PerTensor, false);
  linear.weight_codes = at::tensor({1, -2, 3, -4, 5, 6, -7, 8}, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.weight_offset = at::zeros({2, 1});
  linear.input_scale = at::tensor({0.125f});
  linear.input_offset = at::tensor({3.0f});
  linear.bias = at::tensor({0.03125f, -2.0f});
  linear.model_dtype = model_dtype;
  return linear;
}

std::map<std::string, slim::exporter::AscendV1Tensor> by_name(
    const std::vector<slim::exporter::AscendV1Tensor>& tensors) {
  std::map<std::string, slim::exporter::AscendV1Tensor> out;
  for (const auto& tensor : tensors)
    out[tensor.name] = tensor;
  return out;
}

std::vector<std::string> names_of(const std::vector<slim::exporter::AscendV1Tensor>& tensors) {
  std::vector<std::string> out;
  for (const auto& tensor : tensors)
    out.push_back(tensor.name + ":" + tensor.dtype + ":" + tensor.tag);
  return out;
}

template <typename T>
std::vector<T> values(const at::Tensor& tensor) {
  const at::Tensor flat = tensor.contiguous().view(-1);
  return std::vector<T>(flat.data_ptr<T>(), flat.data_ptr<T>() + flat.numel());
}

AscendV1SaveOptions options_for(const std::string& path, uint64_t part_file_bytes = 0) {
  AscendV1SaveOptions options;
  options.save_path = path;
  options.part_file_bytes = part_file_bytes;
  return options;
}

nlohmann::ordered_json read_json(const std::string& path) {
  return nlohmann::ordered_json::parse(slim::read_file(path));
}

// ----------------------------------------------------------------------------- golden tensors

TEST(AscendV1, W8A8GoldenFp16ModelEncodesDeqScaleAsInt64) {
  const auto tensors = ascendv1_tensors(w8a8_example(at::kHalf));
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{kQ + ".weight:I8:W8A8", kQ + ".quant_bias:I32:W8A8",
                                      kQ + ".input_scale:F32:W8A8", kQ + ".input_offset:F32:W8A8",
                                      kQ + ".deq_scale:I64:W8A8", kQ + ".bias:F32:FLOAT"}));
  auto t = by_name(tensors);
  EXPECT_EQ(t[kQ + ".weight"].tensor.sizes(), at::IntArrayRef({2, 4}));
  EXPECT_EQ(values<int8_t>(t[kQ + ".weight"].tensor),
            (std::vector<int8_t>{1, -2, 3, -4, 5, 6, -7, 8}));
  // deq_scale = s_x * s_w = [0.0625, 0.03125]; their fp32 bit patterns 0x3D800000, 0x3D000000.
  EXPECT_EQ(t[kQ + ".deq_scale"].tensor.sizes(), at::IntArrayRef({2}));
  EXPECT_EQ(values<int64_t>(t[kQ + ".deq_scale"].tensor),
            (std::vector<int64_t>{0x3D800000, 0x3D000000}));
  // quant_bias = round(bias / deq - z_x * sum(q_w)): sums are -2 and 12, so
  // round(0.5 + 6) = 6 (half to even) and round(-64 - 36) = -100.
  EXPECT_EQ(values<int32_t>(t[kQ + ".quant_bias"].tensor), (std::vector<int32_t>{6, -100}));
  EXPECT_EQ(values<float>(t[kQ + ".input_scale"].tensor), (std::vector<float>{0.125f}));
  EXPECT_EQ(values<float>(t[kQ + ".input_offset"].tensor), (std::vector<float>{3.0f}));
  EXPECT_EQ(values<float>(t[kQ + ".bias"].tensor), (std::vector<float>{0.03125f, -2.0f}));
}

TEST(AscendV1, W8A8GoldenBf16ModelKeepsDeqScaleFp32) {
  auto t = by_name(ascendv1_tensors(w8a8_example(at::kBFloat16)));
  EXPECT_EQ(t[kQ + ".deq_scale"].dtype, "F32");
  EXPECT_EQ(values<float>(t[kQ + ".deq_scale"].tensor), (std::vector<float>{0.0625f, 0.03125f}));
  EXPECT_EQ(values<int32_t>(t[kQ + ".quant_bias"].tensor), (std::vector<int32_t>{6, -100}));
}

TEST(AscendV1, W8A8DeqScaleIsComputedInTheModelDtype) {
  // s_x = 0.1 and s_w = 0.3 become 0.10009765625 and 0.30078125 in bf16; their product
  // 0.030107421875... rounds to the bf16 value 0.0301513671875 (247 * 2^-13).
  DeployedLinear linear = w8a8_example(at::kBFloat16);
  linear.input_scale = at::tensor({0.1f});
  linear.weight_scale = at::tensor({0.3f, 0.3f}).reshape({2, 1});
  linear.bias.reset();
  linear.input_offset = at::tensor({0.0f});
  linear.act.symmetric = true;
  auto t = by_name(ascendv1_tensors(linear));
  EXPECT_EQ(values<float>(t[kQ + ".deq_scale"].tensor),
            (std::vector<float>{0.0301513671875f, 0.0301513671875f}));
  EXPECT_EQ(values<int32_t>(t[kQ + ".quant_bias"].tensor), (std::vector<int32_t>{0, 0}));
  // In an fp32 model the product is fp32's: 0.1f * 0.3f.
  linear.model_dtype = at::kFloat;
  t = by_name(ascendv1_tensors(linear));
  const float product = 0.1f * 0.3f;
  int32_t bits;
  std::memcpy(&bits, &product, sizeof bits);
  EXPECT_EQ(values<int64_t>(t[kQ + ".deq_scale"].tensor), (std::vector<int64_t>{bits, bits}));
}

TEST(AscendV1, W8A8MixAddsWeightScaleAndZeroOffset) {
  DeployedLinear linear = w8a8_example(at::kBFloat16);
  linear.tag = DeployedTag::W8A8Mix;
  linear.act = qscheme(QDtype::Int8, QScope::PdMix, false);
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(
      names_of(tensors),
      (std::vector<std::string>{kQ + ".weight:I8:W8A8_MIX", kQ + ".quant_bias:I32:W8A8_MIX",
                                kQ + ".input_scale:F32:W8A8_MIX", kQ + ".input_offset:F32:W8A8_MIX",
                                kQ + ".deq_scale:F32:W8A8_MIX", kQ + ".weight_scale:F32:W8A8_MIX",
                                kQ + ".weight_offset:F32:W8A8_MIX", kQ + ".bias:F32:FLOAT"}));
  auto t = by_name(tensors);
  EXPECT_EQ(t[kQ + ".weight_scale"].tensor.sizes(), at::IntArrayRef({2, 1}));
  EXPECT_EQ(values<float>(t[kQ + ".weight_scale"].tensor), (std::vector<float>{0.5f, 0.25f}));
  EXPECT_EQ(values<float>(t[kQ + ".weight_offset"].tensor), (std::vector<float>{0, 0}));
}

TEST(AscendV1, W8A16PerGroupGolden) {
  DeployedLinear linear = hand_linear(DeployedTag::W8A16);
  linear.weight = qscheme(QDtype::Int8, QScope::PerGroup, false, 2);
  linear.weight_codes = at::tensor({1, -2, 3, -4, 5, 6, -7, 8}, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f, 1.0f, 2.0f}).reshape({2, 2});
  linear.weight_offset = at::tensor({1.0f, -1.0f, 0.0f, 3.0f}).reshape({2, 2});
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{kQ + ".weight:I8:W8A16", kQ + ".weight_scale:F32:W8A16",
                                      kQ + ".weight_offset:F32:W8A16"}));
  auto t = by_name(tensors);
  EXPECT_EQ(t[kQ + ".weight_scale"].tensor.sizes(), at::IntArrayRef({2, 2}));
  EXPECT_EQ(values<float>(t[kQ + ".weight_offset"].tensor),
            (std::vector<float>{1.0f, -1.0f, 0.0f, 3.0f}));
}

TEST(AscendV1, W8A8DynamicGoldenWritesZeroOffsets) {
  DeployedLinear linear = hand_linear(DeployedTag::W8A8Dynamic);
  linear.weight_codes = at::tensor({1, -2, 3, -4, 5, 6, -7, 8}, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.weight_offset = at::zeros({2, 1});
  linear.bias = at::tensor({1.0f, 2.0f}).to(at::kBFloat16);
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{
                kQ + ".weight:I8:W8A8_DYNAMIC", kQ + ".weight_scale:F32:W8A8_DYNAMIC",
                kQ + ".weight_offset:F32:W8A8_DYNAMIC", kQ + ".bias:F32:FLOAT"}));
}

// q = [[1, -2, 3, -4], [5, 6, -7, -1]]: bytes (q[1, i] << 4) | (q[0, i] & 0xF) =
// (5 << 4) | 1 = 81, (6 << 4) | 14 = 110, (-7 << 4) | 3 = -109, (-1 << 4) | 12 = -4.
const std::vector<int8_t> kInt4Codes = {1, -2, 3, -4, 5, 6, -7, -1};
const std::vector<int8_t> kInt4Packed = {81, 110, -109, -4};

TEST(AscendV1, W4A8DynamicGoldenPacksAlongOutputAndScaleBias) {
  DeployedLinear linear = hand_linear(DeployedTag::W4A8Dynamic);
  linear.weight_codes = at::tensor(kInt4Codes, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.weight_offset = at::zeros({2, 1});
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{
                kQ + ".weight:I8:W4A8_DYNAMIC", kQ + ".weight_scale:F32:W4A8_DYNAMIC",
                kQ + ".weight_offset:F32:W4A8_DYNAMIC", kQ + ".scale_bias:F32:W4A8_DYNAMIC"}));
  auto t = by_name(tensors);
  EXPECT_EQ(t[kQ + ".weight"].tensor.sizes(), at::IntArrayRef({1, 4}));
  EXPECT_EQ(values<int8_t>(t[kQ + ".weight"].tensor), kInt4Packed);
  // q_proj: 8 * sum_k q * s_w = 8 * (0.5 * -2) and 8 * (0.25 * 3) -> [-8, 6], shape [O, 1].
  EXPECT_EQ(t[kQ + ".scale_bias"].tensor.sizes(), at::IntArrayRef({2, 1}));
  EXPECT_EQ(values<float>(t[kQ + ".scale_bias"].tensor), (std::vector<float>{-8.0f, 6.0f}));
}

// The split comes from the families' role tables (column- or row-parallel), not from the name.
TEST(AscendV1, W4A8ScaleBiasShapesByTensorParallelSplit) {
  RandomLinearOptions options;
  options.out = 4;
  options.in = 32;
  options.bias = false;
  // down_proj: [O, 16], each the sum of a slice of I / 16 = 2 dequantized weights, times 8.
  DeployedLinear down =
      random_linear(DeployedTag::W4A8Dynamic, "model.layers.1.mlp.down_proj", options);
  auto t = by_name(ascendv1_tensors(down));
  const at::Tensor expected =
      (down.weight_codes.to(at::kFloat) * down.weight_scale).view({4, 16, 2}).sum(-1) * 8;
  EXPECT_TRUE(same_bits(t["model.layers.1.mlp.down_proj.scale_bias"].tensor, expected));
  // A module no family declares (or one without a split, as a router): the dequantized weight
  // itself, [O, I].
  DeployedLinear other = random_linear(DeployedTag::W4A8Dynamic, "model.layers.1.router", options);
  t = by_name(ascendv1_tensors(other));
  EXPECT_TRUE(same_bits(t["model.layers.1.router.scale_bias"].tensor,
                        other.weight_codes.to(at::kFloat) * other.weight_scale));
  // Mixtral's w1 (expert gate) is column-parallel: [O, 1]; a Qwen-MoE expert's down_proj is
  // row-parallel: [O, 16].
  const std::string mixtral = "model.layers.1.block_sparse_moe.experts.0.w1";
  DeployedLinear w1 = random_linear(DeployedTag::W4A8Dynamic, mixtral, options);
  t = by_name(ascendv1_tensors(w1));
  EXPECT_EQ(t[mixtral + ".scale_bias"].tensor.sizes(), at::IntArrayRef({4, 1}));
  const std::string expert = "model.layers.1.mlp.experts.3.down_proj";
  t = by_name(ascendv1_tensors(random_linear(DeployedTag::W4A8Dynamic, expert, options)));
  EXPECT_EQ(t[expert + ".scale_bias"].tensor.sizes(), at::IntArrayRef({4, 16}));
  const std::string router = "model.layers.1.mlp.gate";
  t = by_name(ascendv1_tensors(random_linear(DeployedTag::W4A8Dynamic, router, options)));
  EXPECT_EQ(t[router + ".scale_bias"].tensor.sizes(), at::IntArrayRef({4, 32}));
}

TEST(AscendV1, W4A16GoldenPacksLikeW4A8WithRealOffsets) {
  DeployedLinear linear = hand_linear(DeployedTag::W4A16);
  linear.weight = qscheme(QDtype::Int4, QScope::PerGroup, false, 2);
  linear.weight_codes = at::tensor(kInt4Codes, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f, 1.0f, 2.0f}).reshape({2, 2});
  linear.weight_offset = at::tensor({1.0f, -1.0f, 0.0f, 3.0f}).reshape({2, 2});
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{kQ + ".weight:I8:W4A16", kQ + ".weight_scale:F32:W4A16",
                                      kQ + ".weight_offset:F32:W4A16"}));
  auto t = by_name(tensors);
  EXPECT_EQ(t[kQ + ".weight"].tensor.sizes(), at::IntArrayRef({1, 4}));
  EXPECT_EQ(values<int8_t>(t[kQ + ".weight"].tensor), kInt4Packed);
  EXPECT_EQ(values<float>(t[kQ + ".weight_offset"].tensor),
            (std::vector<float>{1.0f, -1.0f, 0.0f, 3.0f}));
}

TEST(AscendV1, W4A4DynamicStaysUnpacked) {
  DeployedLinear linear = hand_linear(DeployedTag::W4A4Dynamic);
  linear.weight_codes = at::tensor(kInt4Codes, at::kChar).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.weight_offset = at::zeros({2, 1});
  auto t = by_name(ascendv1_tensors(linear));
  EXPECT_EQ(t[kQ + ".weight"].tensor.sizes(), at::IntArrayRef({2, 4}));
  EXPECT_EQ(values<int8_t>(t[kQ + ".weight"].tensor), kInt4Codes);
}

// E4M3 bytes: 1 = 0x38, -0.5 = 0xB0, 448 = 0x7E, 2^-6 = 0x08 (smallest normal), 2^-9 = 0x01
// (smallest subnormal), -3.5 = 0xC6, 0 = 0x00, 240 = 0x77.
const std::vector<float> kE4M3Values = {1.0f,         -0.5f, 448.0f, 0.015625f,
                                        0.001953125f, -3.5f, 0.0f,   240.0f};
const std::vector<uint8_t> kE4M3Bytes = {0x38, 0xB0, 0x7E, 0x08, 0x01, 0xC6, 0x00, 0x77};

TEST(AscendV1, Fp8GoldenWritesE4M3Bytes) {
  DeployedLinear linear = hand_linear(DeployedTag::WFp8AFp8Dynamic);
  linear.weight_codes = at::tensor(kE4M3Values).reshape({2, 4});
  linear.weight_scale = at::tensor({0.5f, 0.25f}).reshape({2, 1});
  linear.bias = at::tensor({1.0f, 2.0f});
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{
                kQ + ".weight:F8_E4M3:WFP8AFP8_DYNAMIC", kQ + ".weight_scale:F32:WFP8AFP8_DYNAMIC",
                kQ + ".weight_offset:F32:WFP8AFP8_DYNAMIC", kQ + ".bias:F32:FLOAT"}));
  auto t = by_name(tensors);
  EXPECT_EQ(values<uint8_t>(t[kQ + ".weight"].tensor), kE4M3Bytes);
}

TEST(AscendV1, MxFp4GoldenPacksE2M1AndExponentBytes) {
  // codes 0.5 -> 1, -1 -> 10, 6 -> 7, -0 -> 8, 1.5 -> 3, 2 -> 4, -3 -> 13, 4 -> 6;
  // bytes code[2k] | code[2k + 1] << 4 = 161, 135, 67, 109; e = [-1, 3] -> bytes 126, 130.
  DeployedLinear linear = hand_linear(DeployedTag::W4A4MxFp4);
  linear.weight_codes =
      at::tensor({0.5f, -1.0f, 6.0f, -0.0f, 1.5f, 2.0f, -3.0f, 4.0f}).reshape({2, 4});
  linear.weight_scale = at::tensor({-1, 3}, at::kInt).reshape({2, 1});
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(names_of(tensors), (std::vector<std::string>{kQ + ".weight:U8:W4A4_MXFP4",
                                                         kQ + ".weight_scale:U8:W4A4_MXFP4"}));
  auto t = by_name(tensors);
  EXPECT_EQ(t[kQ + ".weight"].tensor.sizes(), at::IntArrayRef({2, 2}));
  EXPECT_EQ(values<uint8_t>(t[kQ + ".weight"].tensor), (std::vector<uint8_t>{161, 135, 67, 109}));
  EXPECT_EQ(values<uint8_t>(t[kQ + ".weight_scale"].tensor), (std::vector<uint8_t>{126, 130}));
}

TEST(AscendV1, MxFp8GoldenWritesE4M3AndExponentBytes) {
  DeployedLinear linear = hand_linear(DeployedTag::W8A8MxFp8);
  linear.weight_codes = at::tensor(kE4M3Values).reshape({2, 4});
  linear.weight_scale = at::tensor({-127, 127}, at::kInt).reshape({2, 1});
  linear.bias = at::tensor({1.0f, 2.0f}).to(at::kBFloat16);
  const auto tensors = ascendv1_tensors(linear);
  EXPECT_EQ(names_of(tensors),
            (std::vector<std::string>{kQ + ".weight:F8_E4M3:W8A8_MXFP8",
                                      kQ + ".weight_scale:U8:W8A8_MXFP8", kQ + ".bias:F32:FLOAT"}));
  auto t = by_name(tensors);
  EXPECT_EQ(values<uint8_t>(t[kQ + ".weight"].tensor), kE4M3Bytes);
  EXPECT_EQ(values<uint8_t>(t[kQ + ".weight_scale"].tensor), (std::vector<uint8_t>{0, 254}));
}

TEST(AscendV1, FloatAndW16A16SLinearsKeepTheirDtype) {
  DeployedLinear linear = hand_linear(DeployedTag::W16A16S);
  linear.weight_codes = at::ones({2, 4}, at::kBFloat16);
  linear.bias = at::ones({2}, at::kBFloat16);
  EXPECT_EQ(names_of(ascendv1_tensors(linear)),
            (std::vector<std::string>{kQ + ".weight:BF16:W16A16S", kQ + ".bias:BF16:W16A16S"}));
  linear.tag = DeployedTag::Float;
  EXPECT_EQ(names_of(ascendv1_tensors(linear)),
            (std::vector<std::string>{kQ + ".weight:BF16:FLOAT", kQ + ".bias:BF16:FLOAT"}));
}

// ------------------------------------------------------------------------ the saved directory

TEST(AscendV1, DescriptionFileGolden) {
  TempDir dir;
  const std::string out = dir.file("out");
  AscendV1Saver saver(options_for(out));
  saver.add_float("model.embed_tokens.weight", at::ones({3, 2}, at::kBFloat16));
  DeployedLinear linear = w8a8_example(at::kBFloat16);
  linear.bias.reset();
  saver.add_linear(linear);
  saver.add_extra("model.layers.0.self_attn.k_proj.kv_cache_scale", at::ones({4}), "C8");
  saver.add_description("model.layers.0.self_attn.quant_type", "INT8");
  const auto files = saver.finish();
  EXPECT_EQ(files, (std::vector<std::string>{"quant_model_description.json",
                                             "quant_model_weights.safetensors"}));
  EXPECT_EQ(slim::read_file(out + "/quant_model_description.json"),
            "{\n"
            "    \"model.embed_tokens.weight\": \"FLOAT\",\n"
            "    \"model.layers.0.self_attn.q_proj.weight\": \"W8A8\",\n"
            "    \"model.layers.0.self_attn.q_proj.quant_bias\": \"W8A8\",\n"
            "    \"model.layers.0.self_attn.q_proj.input_scale\": \"W8A8\",\n"
            "    \"model.layers.0.self_attn.q_proj.input_offset\": \"W8A8\",\n"
            "    \"model.layers.0.self_attn.q_proj.deq_scale\": \"W8A8\",\n"
            "    \"model.layers.0.self_attn.k_proj.kv_cache_scale\": \"C8\",\n"
            "    \"model.layers.0.self_attn.quant_type\": \"INT8\",\n"
            "    \"kv_cache_type\": \"C8\",\n"
            "    \"kv_quant_type\": \"C8\",\n"
            "    \"version\": \"1.0.0\",\n"
            "    \"model_quant_type\": \"W8A8\",\n"
            "    \"metadata\": {},\n"
            "    \"group_size\": 0,\n"
            "    \"optional\": {}\n"
            "}");
  const auto file = slim::io::SafetensorsFile::open(out + "/quant_model_weights.safetensors");
  EXPECT_EQ(file->info("model.embed_tokens.weight").dtype, slim::io::Dtype::BF16);
  EXPECT_EQ(file->info(kQ + ".deq_scale").dtype, slim::io::Dtype::F32);
  EXPECT_EQ(file->info(kQ + ".quant_bias").shape, (std::vector<int64_t>{2}));
  EXPECT_TRUE(file->metadata().empty());
}

TEST(AscendV1, ModelQuantTypeFollowsPriorityAndGroupSizeLastWriterWins) {
  TempDir dir;
  AscendV1Saver saver(options_for(dir.file("out")));
  RandomLinearOptions grouped;
  grouped.group_size = 16;
  saver.add_linear(random_linear(DeployedTag::W8A16, "a", grouped));
  saver.add_linear(random_linear(DeployedTag::W8A8Dynamic, "b"));
  saver.add_linear(random_linear(DeployedTag::W4A8Dynamic, "c"));  // never the model type
  grouped.group_size = 32;
  saver.add_linear(random_linear(DeployedTag::W4A4Dynamic, "d", grouped));
  saver.add_linear(random_linear(DeployedTag::Float, "e"));
  saver.add_extra("f.fa_q.scale", at::ones({2, 1}), "FAQuant");
  saver.finish();
  const auto description = read_json(dir.file("out/quant_model_description.json"));
  EXPECT_EQ(description["model_quant_type"], "W4A4_DYNAMIC");
  EXPECT_EQ(description["group_size"], 32);
  EXPECT_EQ(description["fa_quant_type"], "FAKQuant");
  EXPECT_EQ(description["a.bias"], "FLOAT");
  EXPECT_EQ(description["c.scale_bias"], "W4A8_DYNAMIC");
  EXPECT_EQ(description["e.weight"], "FLOAT");
  EXPECT_FALSE(description.contains("kv_cache_type"));
}

TEST(AscendV1, ModelQuantTypeUnknownWithoutARankedTag) {
  TempDir dir;
  AscendV1Saver saver(options_for(dir.file("out")));
  saver.add_linear(random_linear(DeployedTag::W4A8Dynamic, "c"));
  saver.add_float("norm.weight", at::ones({4}));
  saver.finish();
  EXPECT_EQ(read_json(dir.file("out/quant_model_description.json"))["model_quant_type"], "Unknown");
}

TEST(AscendV1, MxLayersSetGroupSize32) {
  TempDir dir;
  AscendV1Saver saver(options_for(dir.file("out")));
  saver.add_linear(random_linear(DeployedTag::W4A8MxFp, "m"));
  saver.finish();
  const auto description = read_json(dir.file("out/quant_model_description.json"));
  EXPECT_EQ(description["group_size"], 32);
  EXPECT_EQ(description["model_quant_type"], "W4A8_MXFP");
}

// ------------------------------------------------------------------------------------ sharding

// Three 40-byte tensors; msModelSlim flushes the pending shard when pending + size >= limit.
std::vector<std::string> shard_files(const std::string& out, uint64_t limit,
                                     const std::vector<int64_t>& floats) {
  AscendV1Saver saver(options_for(out, limit));
  for (size_t i = 0; i < floats.size(); ++i)
    saver.add_float("t" + std::to_string(i), at::full({floats[i]}, static_cast<float>(i)));
  return saver.finish();
}

TEST(AscendV1, ShardBoundaryIsInclusive) {
  TempDir dir;
  // 40 + 40 >= 80: every tensor closes the shard before it.
  EXPECT_EQ(shard_files(dir.file("a"), 80, {10, 10, 10}),
            (std::vector<std::string>{"quant_model_description.json",
                                      "quant_model_weights-00001-of-00003.safetensors",
                                      "quant_model_weights-00002-of-00003.safetensors",
                                      "quant_model_weights-00003-of-00003.safetensors",
                                      "quant_model_weights.safetensors.index.json"}));
  // 40 + 40 < 81 but 80 + 40 >= 81: two tensors, then one.
  shard_files(dir.file("b"), 81, {10, 10, 10});
  const auto index = read_json(dir.file("b/quant_model_weights.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 120);
  EXPECT_EQ(index["weight_map"]["t0"], "quant_model_weights-00001-of-00002.safetensors");
  EXPECT_EQ(index["weight_map"]["t1"], "quant_model_weights-00001-of-00002.safetensors");
  EXPECT_EQ(index["weight_map"]["t2"], "quant_model_weights-00002-of-00002.safetensors");
}

TEST(AscendV1, OversizedTensorGetsItsOwnShard) {
  TempDir dir;
  shard_files(dir.file("out"), 100, {5, 50, 5});  // 20, 200, 20 bytes
  const auto index = read_json(dir.file("out/quant_model_weights.safetensors.index.json"));
  EXPECT_EQ(index["weight_map"]["t0"], "quant_model_weights-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t1"], "quant_model_weights-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t2"], "quant_model_weights-00003-of-00003.safetensors");
  EXPECT_EQ(index["metadata"]["total_size"], 240);
}

TEST(AscendV1, PartFileSizeAlwaysIndexesEvenOneShard) {
  TempDir dir;
  EXPECT_EQ(shard_files(dir.file("one"), uint64_t{4} << 30, {10}),
            (std::vector<std::string>{"quant_model_description.json",
                                      "quant_model_weights-00001-of-00001.safetensors",
                                      "quant_model_weights.safetensors.index.json"}));
  EXPECT_EQ(shard_files(dir.file("zero"), 0, {10, 10}),
            (std::vector<std::string>{"quant_model_description.json",
                                      "quant_model_weights.safetensors"}));
}

// -------------------------------------------------------------------------------- model files

TEST(AscendV1, CopiesConfigAndTokenizerFilesWithoutQuantizationConfig) {
  TempDir dir;
  const std::string model = dir.file("model");
  fs::create_directories(model + "/sub");
  slim::write_file(model + "/config.json",
                   R"({"architectures": ["LlamaForCausalLM"], "quantization_config": {"x": 1},)"
                   R"( "text_config": {"a": 1, "quantization_config": {}}, "torch_dtype": )"
                   R"("bfloat16", "rms_norm_eps": 1e-06})");
  slim::write_file(model + "/generation_config.json", "{\"do_sample\": false}\n");
  slim::write_file(model + "/tokenizer.json", "{}");
  slim::write_file(model + "/model.safetensors.index.json", "{}");
  slim::write_file(model + "/merges.txt", "a b\n");
  slim::write_file(model + "/chat_template.jinja", "{{ x }}");
  slim::write_file(model + "/modeling_x.py", "pass\n");
  slim::write_file(model + "/tokenizer.model", "spm");
  slim::write_file(model + "/model.safetensors", "not copied");
  slim::write_file(model + "/sub/nested.json", "{}");
  AscendV1SaveOptions options = options_for(dir.file("out"));
  options.model_path = model;
  options.extra_files = {{"llama_best_practice.yaml", "apiversion: modelslim_v1\n"}};
  AscendV1Saver saver(options);
  saver.add_float("w", at::ones({2}));
  EXPECT_EQ(saver.finish(),
            (std::vector<std::string>{"chat_template.jinja", "config.json",
                                      "generation_config.json", "llama_best_practice.yaml",
                                      "merges.txt", "modeling_x.py", "quant_model_description.json",
                                      "quant_model_weights.safetensors", "tokenizer.json"}));
  EXPECT_EQ(slim::read_file(dir.file("out/config.json")),
            "{\n"
            "  \"architectures\": [\n"
            "    \"LlamaForCausalLM\"\n"
            "  ],\n"
            "  \"text_config\": {\n"
            "    \"a\": 1\n"
            "  },\n"
            "  \"torch_dtype\": \"bfloat16\",\n"
            "  \"rms_norm_eps\": 1e-06\n"
            "}");
  EXPECT_EQ(slim::read_file(dir.file("out/generation_config.json")), "{\"do_sample\": false}\n");
  struct stat info;
  ASSERT_EQ(::stat(dir.file("out/tokenizer.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.file("out/quant_model_description.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST(AscendV1, ConfigWithoutQuantizationConfigIsCopiedByteForByte) {
  TempDir dir;
  const std::string model = dir.file("model");
  fs::create_directories(model);
  const std::string config = "{\"torch_dtype\":   \"float16\"}\n";
  slim::write_file(model + "/config.json", config);
  AscendV1SaveOptions options = options_for(dir.file("out"));
  options.model_path = model;
  AscendV1Saver saver(options);
  saver.finish();
  EXPECT_EQ(slim::read_file(dir.file("out/config.json")), config);
}

// ------------------------------------------------------------------------------ round trips

struct RoundTripCase {
  DeployedTag tag;
  int64_t group_size;
  bool asym;
  at::ScalarType model_dtype;
};

TEST(AscendV1, EveryTagRoundTripsBitForBit) {
  const std::vector<RoundTripCase> cases = {
      {DeployedTag::W8A8, 0, false, at::kFloat},
      {DeployedTag::W8A8, 0, true, at::kBFloat16},
      {DeployedTag::W8A8Mix, 0, true, at::kHalf},
      {DeployedTag::W8A8Dynamic, 0, false, at::kBFloat16},
      {DeployedTag::W8A8Dynamic, 16, false, at::kBFloat16},
      {DeployedTag::W8A16, 0, false, at::kBFloat16},
      {DeployedTag::W8A16, 0, true, at::kBFloat16},
      {DeployedTag::W8A16, 16, true, at::kHalf},
      {DeployedTag::W4A16, 0, true, at::kBFloat16},
      {DeployedTag::W4A16, 32, false, at::kBFloat16},
      {DeployedTag::W4A16, 16, true, at::kBFloat16},
      {DeployedTag::W4A8Dynamic, 0, false, at::kBFloat16},
      {DeployedTag::W4A4Dynamic, 0, true, at::kBFloat16},
      {DeployedTag::W4A4Dynamic, 8, true, at::kBFloat16},
      {DeployedTag::WFp8AFp8Dynamic, 0, false, at::kBFloat16},
      {DeployedTag::W8A8MxFp8, 0, false, at::kBFloat16},
      {DeployedTag::W4A8MxFp, 0, false, at::kBFloat16},
      {DeployedTag::W4A4MxFp4, 0, false, at::kBFloat16},
  };
  TempDir dir;
  const std::string out = dir.file("out");
  std::vector<DeployedLinear> saved;
  AscendV1Saver saver(options_for(out, 3000));  // several shards
  saver.add_float("model.embed_tokens.weight", at::randn({16, 64}).to(at::kBFloat16));
  for (size_t i = 0; i < cases.size(); ++i) {
    RandomLinearOptions options;
    options.group_size = cases[i].group_size;
    options.asym = cases[i].asym;
    options.model_dtype = cases[i].model_dtype;
    options.in = 96;  // three MX blocks
    options.seed = 100 + i;
    saved.push_back(
        random_linear(cases[i].tag, "model.layers." + std::to_string(i) + ".mlp.up_proj", options));
    saver.add_linear(saved.back());
  }
  DeployedLinear w16 = random_linear(DeployedTag::W16A16S, "model.layers.99.mlp.up_proj");
  w16.model_dtype = at::kBFloat16;
  saver.add_linear(w16);
  saver.add_extra("model.layers.0.self_attn.v_proj.kv_cache_offset", at::zeros({4}), "C8");
  saver.add_float("lm_head.weight", at::randn({16, 64}));
  saver.finish();

  // The model dtype is not in the directory (no config.json): give it per record.
  for (const auto& record : saved) {
    const AscendV1Reader reader(out, record.model_dtype);
    expect_same_record(record, reader.linear(record.name));
  }
  const AscendV1Reader reader(out, at::kBFloat16);
  EXPECT_EQ(reader.linears().size(), saved.size() + 1);
  EXPECT_EQ(reader.linears().front(), saved.front().name);
  expect_same_record(w16, reader.linear(w16.name));
  EXPECT_EQ(reader.float_tensors(),
            (std::vector<std::string>{"model.embed_tokens.weight", "lm_head.weight"}));
  ASSERT_EQ(reader.other_tensors().size(), 1u);
  EXPECT_EQ(reader.other_tensors()[0].second, "C8");
  EXPECT_EQ(reader.model_quant_type(), "W4A4_MXFP4");
  EXPECT_EQ(reader.group_size(), 32);
  EXPECT_EQ(reader.tensor("lm_head.weight").scalar_type(), at::kFloat);
}

// Quantize a random bf16 layer (quant::deploy_linear), save, load, dequantize: bit for bit the
// in-memory fake-quantized weight (quant::fake_quantize_weight). W8A8 stores s_x * s_w instead of
// s_w, so only its codes and activation parameters are compared.
TEST(AscendV1, QuantizedLayersRoundTripToTheFakeQuantizedWeight) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  TempDir dir;
  const std::string out = dir.file("out");
  AscendV1Saver saver(options_for(out));
  std::vector<std::tuple<DeployedLinear, at::Tensor>> saved;
  // Every form of the deployed-form table that a scheme pair selects and the format holds (the
  // refusals: quantized_saver_test).
  for (const slim::quant::DeployedForm& form :
       slim::testing::held_forms(saver, slim::testing::selectable_forms(32, false))) {
    const std::string name = "model.layers." + std::to_string(saved.size()) + ".mlp.gate_proj";
    const at::Tensor weight = at::randn({8, 96}, gen).to(at::kBFloat16);
    const at::Tensor bias = at::randn({8}, gen).to(at::kBFloat16);
    const DeployedLinear linear =
        slim::quant::deploy_linear(name, weight, bias, form.act, form.weight,
                                   slim::testing::fixed_act_params(form), at::kBFloat16);
    ASSERT_EQ(linear.form(), form);
    saver.add_linear(linear);
    saved.emplace_back(linear, slim::quant::fake_quantize_weight(name, weight, form.weight));
  }
  EXPECT_GT(saved.size(), 10u);
  saver.finish();
  const AscendV1Reader reader(out, at::kBFloat16);
  for (const auto& [linear, fake_quantized] : saved) {
    SCOPED_TRACE(linear.name + " " + tag_name(linear.tag));
    const DeployedLinear loaded = reader.linear(linear.name);
    EXPECT_TRUE(same_bits(loaded.weight_codes, linear.weight_codes));
    EXPECT_TRUE(same_bits(loaded.input_scale, linear.input_scale));
    EXPECT_TRUE(same_bits(loaded.input_offset, linear.input_offset));
    if (linear.tag == DeployedTag::W8A8) continue;
    EXPECT_EQ(loaded.weight, linear.weight);
    EXPECT_TRUE(same_bits(slim::quant::dequantize_weight(loaded, at::kBFloat16), fake_quantized));
  }
}

TEST(AscendV1, W8A8RoundTripRecoversWeightScaleFromDeqScale) {
  TempDir dir;
  RandomLinearOptions options;
  options.asym = true;
  options.model_dtype = at::kFloat;
  const DeployedLinear saved = random_linear(DeployedTag::W8A8, kQ, options);
  AscendV1Saver saver(options_for(dir.file("out")));
  saver.add_linear(saved);
  saver.finish();
  const DeployedLinear loaded = AscendV1Reader(dir.file("out"), at::kFloat).linear(kQ);
  expect_same_record(saved, loaded);
  // s_w' = fp32(s_x * s_w) / s_x: within an ulp or two of s_w.
  EXPECT_TRUE(at::allclose(loaded.weight_scale, saved.weight_scale, 3e-7, 0));
  // Saving the loaded record again gives the same deq_scale and quant_bias.
  const auto again = by_name(ascendv1_tensors(loaded));
  const auto first = by_name(ascendv1_tensors(saved));
  EXPECT_TRUE(at::allclose(
      slim::exporter::detail::deq_scale_from_int64(again.at(kQ + ".deq_scale").tensor),
      slim::exporter::detail::deq_scale_from_int64(first.at(kQ + ".deq_scale").tensor), 3e-7, 0));
}

TEST(AscendV1, ReaderTakesTheModelDtypeFromConfig) {
  TempDir dir;
  const std::string model = dir.file("model");
  fs::create_directories(model);
  slim::write_file(model + "/config.json", R"({"torch_dtype": "float16"})");
  AscendV1SaveOptions options = options_for(dir.file("out"));
  options.model_path = model;
  RandomLinearOptions linear_options;
  linear_options.model_dtype = at::kHalf;
  DeployedLinear saved = random_linear(DeployedTag::W8A8Mix, kQ, linear_options);
  // Scales whose product stays a normal fp16 number.
  saved.input_scale = at::tensor({0.05f});
  saved.weight_scale = saved.weight_scale + 0.01f;
  AscendV1Saver saver(options);
  saver.add_linear(saved);
  saver.finish();
  const AscendV1Reader reader(dir.file("out"));
  EXPECT_EQ(reader.model_dtype(), at::kHalf);
  EXPECT_EQ(reader.checkpoint().info(kQ + ".deq_scale").dtype, slim::io::Dtype::I64);
  expect_same_record(saved, reader.linear(kQ));
}

// ------------------------------------------------------------------ W8A8 integer arithmetic

// Y = (sum_k q_x q_w + quant_bias) * deq_scale with the stored tensors, against the fake-quant
// layer x_hat W_hat^T + b of the record, both in fp64 from the fp32 values.
void expect_integer_path_matches(const DeployedLinear& linear, double tolerance_ulps) {
  TempDir dir;
  AscendV1Saver saver(options_for(dir.file("out")));
  saver.add_linear(linear);
  saver.finish();
  const AscendV1Reader reader(dir.file("out"), linear.model_dtype);
  const at::Tensor q_w = reader.tensor(kQ + ".weight").to(at::kLong);
  const at::Tensor quant_bias = reader.tensor(kQ + ".quant_bias").to(at::kLong);
  const at::Tensor stored_deq = reader.tensor(kQ + ".deq_scale");
  const at::Tensor deq = (stored_deq.scalar_type() == at::kLong
                              ? slim::exporter::detail::deq_scale_from_int64(stored_deq)
                              : stored_deq)
                             .to(at::kDouble);
  const double s_x = reader.tensor(kQ + ".input_scale").item<float>();
  const double z_x = reader.tensor(kQ + ".input_offset").item<float>();

  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor x = at::empty({5, linear.in_features()}, at::kFloat).uniform_(-3, 3, gen);
  const at::Tensor q_x = at::clamp(at::round(x.to(at::kDouble) / s_x + z_x), -128, 127);
  const at::Tensor integer = at::matmul(q_x.to(at::kLong), q_w.t()) + quant_bias;
  const at::Tensor y_int = integer.to(at::kDouble) * deq;

  const at::Tensor x_hat = (q_x - z_x) * s_x;
  const at::Tensor w_hat = slim::testing::dequantized(linear).to(at::kDouble);
  at::Tensor y_ref = at::matmul(x_hat, w_hat.t());
  if (linear.bias) y_ref = y_ref + linear.bias->to(at::kDouble);
  // Each output carries one fp32 rounding of deq_scale; scale by the magnitude of its terms.
  const at::Tensor magnitude =
      at::matmul(x_hat.abs(), w_hat.abs().t()) +
      (linear.bias ? linear.bias->to(at::kDouble).abs() : at::zeros({1}, at::kDouble));
  const double eps = std::ldexp(1.0, -24);
  const at::Tensor error = (y_int - y_ref).abs();
  EXPECT_TRUE((error <= magnitude * eps * tolerance_ulps + 1e-12).all().item<bool>())
      << "max error " << error.max().item<double>();
}

TEST(AscendV1, W8A8IntegerArithmeticReproducesTheLayerToFp32Rounding) {
  RandomLinearOptions options;
  options.asym = true;
  options.bias = false;
  options.model_dtype = at::kFloat;
  options.in = 64;
  expect_integer_path_matches(random_linear(DeployedTag::W8A8, kQ, options), 2);
  options.asym = false;
  options.seed = 2;
  expect_integer_path_matches(random_linear(DeployedTag::W8A8, kQ, options), 2);
}

TEST(AscendV1, W8A8IntegerArithmeticIsExactWithDyadicScalesAndBias) {
  // s_x = 2^-5, s_w = k / 256 and bias = m * deq: every product is exact in fp32, so the stored
  // integer path and the fake-quant layer agree exactly.
  RandomLinearOptions options;
  options.asym = true;
  options.model_dtype = at::kFloat;
  DeployedLinear linear = random_linear(DeployedTag::W8A8, kQ, options);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  linear.input_scale = at::tensor({0.03125f});
  linear.weight_scale = at::randint(1, 256, {options.out, 1}, gen, at::kLong).to(at::kFloat) / 256;
  linear.bias = at::randint(-1000, 1000, {options.out}, gen, at::kLong).to(at::kFloat) *
                (linear.weight_scale.squeeze(1) * 0.03125f);
  expect_integer_path_matches(linear, 0);
}

TEST(AscendV1, W8A8IntegerArithmeticWithBiasIsWithinHalfAQuantum) {
  // A general bias is rounded to a multiple of deq_scale: at most half a quantum per output.
  RandomLinearOptions options;
  options.asym = true;
  options.model_dtype = at::kFloat;
  const DeployedLinear linear = random_linear(DeployedTag::W8A8, kQ, options);
  const auto t = by_name(ascendv1_tensors(linear));
  const at::Tensor deq =
      slim::exporter::detail::deq_scale_from_int64(t.at(kQ + ".deq_scale").tensor).to(at::kDouble);
  const at::Tensor sum_q = linear.weight_codes.to(at::kDouble).sum(1);
  const double z_x = linear.input_offset.item<float>();
  const at::Tensor reconstructed =
      (t.at(kQ + ".quant_bias").tensor.to(at::kDouble) + z_x * sum_q) * deq;
  EXPECT_TRUE(((reconstructed - linear.bias->to(at::kDouble)).abs() <= deq * (0.5 + 1e-3))
                  .all()
                  .item<bool>());
}

// ----------------------------------------------------------------- atomic output, bad input

TEST(AscendV1, RefusesNonEmptySavePathUnlessOverwrite) {
  TempDir dir;
  const std::string out = dir.file("out");
  fs::create_directories(out);
  slim::write_file(out + "/keep.txt", "x");
  EXPECT_ERROR_WITH(AscendV1Saver saver(options_for(out)), out, "not empty", "--overwrite");
  EXPECT_TRUE(fs::exists(out + "/keep.txt"));
  AscendV1SaveOptions options = options_for(out);
  options.overwrite = true;
  AscendV1Saver saver(options);
  saver.add_float("w", at::ones({2}));
  saver.finish();
  EXPECT_FALSE(fs::exists(out + "/keep.txt"));
  EXPECT_TRUE(fs::exists(out + "/quant_model_weights.safetensors"));
}

TEST(AscendV1, FailureLeavesNothingBehind) {
  TempDir dir;
  const std::string out = dir.file("out");
  {
    AscendV1Saver saver(options_for(out, 64));
    saver.add_linear(random_linear(DeployedTag::W8A16, "a"));
    saver.add_linear(random_linear(DeployedTag::W8A16, "b"));
    DeployedLinear bad = random_linear(DeployedTag::W8A16, "model.layers.3.mlp.down_proj");
    bad.weight_scale = at::ones({3, 1});
    EXPECT_ERROR_WITH(saver.add_linear(bad), "model.layers.3.mlp.down_proj", "weight_scale");
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::is_empty(dir.path())) << "temporary files were left behind";
}

TEST(AscendV1, W8A8DeqScaleUnderflowInTheModelDtypeIsAnError) {
  // In an fp16 model s_x * s_w = 1e-4 * 1e-4 flushes to zero: bias / deq_scale is not finite.
  DeployedLinear linear = w8a8_example(at::kHalf);
  linear.input_scale = at::tensor({1e-4f});
  linear.weight_scale = at::full({2, 1}, 1e-4f);
  EXPECT_ERROR_WITH(ascendv1_tensors(linear), kQ, "quant_bias", "deq_scale", "Half");
}

TEST(AscendV1, InvalidRecordsNameTheTensor) {
  DeployedLinear linear = random_linear(DeployedTag::W4A4Dynamic, "model.layers.2.mlp.gate_proj");
  linear.weight_codes = linear.weight_codes.to(at::kInt);
  EXPECT_ERROR_WITH(ascendv1_tensors(linear), "model.layers.2.mlp.gate_proj", "weight_codes");

  DeployedLinear fp8 = random_linear(DeployedTag::WFp8AFp8Dynamic, "model.layers.2.mlp.up_proj");
  fp8.weight_codes[1][3] = 1.0625f;  // between E4M3 neighbours 1.0 and 1.125
  EXPECT_ERROR_WITH(ascendv1_tensors(fp8), "model.layers.2.mlp.up_proj.weight", "1.0625", "E4M3");

  DeployedLinear mx = random_linear(DeployedTag::W4A4MxFp4, "model.layers.2.mlp.down_proj");
  mx.weight_codes[0][5] = 5.0f;
  EXPECT_ERROR_WITH(ascendv1_tensors(mx), "model.layers.2.mlp.down_proj", "[0, 5]", "E2M1");

  RandomLinearOptions grouped;
  grouped.group_size = 16;
  grouped.asym = true;
  DeployedLinear asym =
      random_linear(DeployedTag::W8A8Dynamic, "model.layers.2.self_attn.o_proj", grouped);
  EXPECT_ERROR_WITH(ascendv1_tensors(asym), "model.layers.2.self_attn.o_proj", "W8A8_DYNAMIC",
                    "weight_offset", "asymmetric");

  RandomLinearOptions odd;
  odd.out = 3;
  DeployedLinear w4a16 = random_linear(DeployedTag::W4A16, "model.layers.2.mlp.up_proj", odd);
  EXPECT_ERROR_WITH(ascendv1_tensors(w4a16), "model.layers.2.mlp.up_proj", "W4A16", "even", "3");

  RandomLinearOptions narrow;
  narrow.in = 24;
  DeployedLinear down =
      random_linear(DeployedTag::W4A8Dynamic, "model.layers.2.mlp.down_proj", narrow);
  EXPECT_ERROR_WITH(ascendv1_tensors(down), "model.layers.2.mlp.down_proj", "scale_bias", "16",
                    "24");
}

TEST(AscendV1, DuplicateTensorsAndUnknownTagsAreRefused) {
  TempDir dir;
  AscendV1Saver saver(options_for(dir.file("out")));
  saver.add_linear(random_linear(DeployedTag::W8A16, "a"));
  EXPECT_ERROR_WITH(saver.add_float("a.weight", at::ones({2})), "'a.weight'", "twice");
  EXPECT_ERROR_WITH(saver.add_linear(random_linear(DeployedTag::W8A16, "a")), "'a.weight'",
                    "twice");
  EXPECT_ERROR_WITH(saver.add_extra("x", at::ones({2}), "W8A8"), "'x'", "'W8A8'", "add_linear");
  saver.finish();
  EXPECT_ERROR_WITH(saver.add_float("late", at::ones({2})), "after finish");
}

TEST(AscendV1, ReaderRejectsIncompleteDirectories) {
  TempDir dir;
  EXPECT_ERROR_WITH(AscendV1Reader reader(dir.path()), "not an Ascend V1 directory");
  AscendV1Saver saver(options_for(dir.file("out")));
  saver.add_linear(random_linear(DeployedTag::W8A16, "a"));
  saver.finish();
  // Drop a tensor the description promises.
  auto description = read_json(dir.file("out/quant_model_description.json"));
  description["b.weight"] = "W8A8_DYNAMIC";
  slim::write_file(dir.file("out/quant_model_description.json"), description.dump(4));
  const AscendV1Reader reader(dir.file("out"));
  EXPECT_EQ(reader.linears(), (std::vector<std::string>{"a"}));  // b.weight is not in the file
  description["a.weight"] = "W8A8";
  slim::write_file(dir.file("out/quant_model_description.json"), description.dump(4));
  EXPECT_ERROR_WITH(AscendV1Reader again(dir.file("out")), "'a'", "W8A8", "'a.quant_bias'",
                    "missing");
}

}  // namespace
