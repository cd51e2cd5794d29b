// The format-neutral saver interface: the factory, check() against add_linear over every form of
// the deployed-form table, float linears, extras.
#include "slim/export/quantized_saver.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "slim/core/files.h"
#include "slim/export/ascendv1.h"
#include "slim/export/compressed_tensors.h"
#include "slim/quant/deployed_forms.h"
#include "support/deployed_records.h"
#include "support/expect_error.h"
#include "support/expect_records.h"
#include "support/temp_dir.h"

namespace slim::exporter {
namespace {

namespace fs = std::filesystem;
using quant::DeployedForm;
using quant::DeployedLinear;
using quant::DeployedTag;
using slim::testing::random_linear;
using slim::testing::RandomLinearOptions;

TEST(QuantizedSaver, FactoryKnowsBothFormats) {
  slim::testing::TempDir dir;
  QuantizedSaveOptions options;
  options.save_path = dir.file("ascend");
  EXPECT_TRUE(make_quantized_saver("ascendv1", options)->writes_tied_weights_twice());
  options.save_path = dir.file("ct");
  EXPECT_FALSE(make_quantized_saver("compressed-tensors", options)->writes_tied_weights_twice());
  // Abandoned savers leave nothing behind.
  EXPECT_FALSE(fs::exists(dir.file("ascend")));
  EXPECT_ERROR_WITH(make_quantized_saver("gguf", options), "gguf", "ascendv1, compressed-tensors");
  EXPECT_EQ(quantized_formats().size(), 2u);
}

// The record read back from a finished output of `format`.
DeployedLinear read_back(const std::string& format, const std::string& dir,
                         const DeployedLinear& saved) {
  if (format == "ascendv1") return AscendV1Reader(dir, saved.model_dtype).linear(saved.name);
  return CompressedTensorsReader(dir, saved.model_dtype).linear(saved.name);
}

// check() tells the truth: over every form of the table, in every format, it accepts a form
// exactly when add_linear writes a record of it, and what it accepts reads back bit for bit.
TEST(QuantizedSaver, CheckAcceptsExactlyTheFormsAddLinearWrites) {
  slim::testing::TempDir dir;
  int index = 0;
  for (const auto& format : quantized_formats()) {
    int accepted_count = 0;
    for (const DeployedForm& form : quant::every_form(16)) {
      SCOPED_TRACE(format + ": " + form.to_string());
      QuantizedSaveOptions options;
      options.save_path = dir.file("out" + std::to_string(index++));
      const auto saver = make_quantized_saver(format, options);
      std::string refusal;
      try {
        saver->check(form);
      } catch (const Error& error) {
        refusal = error.what();
      }
      RandomLinearOptions random;
      random.seed = static_cast<uint64_t>(index);
      const DeployedLinear linear = random_linear(form, "model.layers.0.mlp.up_proj", random);
      EXPECT_EQ(linear.form(), form);
      std::string write_error;
      try {
        saver->add_linear(linear);
      } catch (const Error& error) {
        write_error = error.what();
      }
      EXPECT_EQ(refusal.empty(), write_error.empty()) << refusal << write_error;
      if (!refusal.empty()) {
        // The refusal names the format and the form; add_linear's names the linear too.
        EXPECT_NE(refusal.find(format), std::string::npos) << refusal;
        EXPECT_NE(refusal.find(quant::tag_name(form.tag)), std::string::npos) << refusal;
        EXPECT_NE(write_error.find("'model.layers.0.mlp.up_proj'"), std::string::npos)
            << write_error;
        continue;
      }
      ++accepted_count;
      saver->finish();
      if (form.tag != DeployedTag::Float) {  // FLOAT linears read back as float tensors
        slim::testing::expect_same_record(linear, read_back(format, options.save_path, linear),
                                          format == "ascendv1");
      }
    }
    EXPECT_GT(accepted_count, 0) << format;
  }
}

TEST(QuantizedSaver, BothFormatsRefuseFormsOutsideTheTable) {
  DeployedForm dynamic_asym = slim::testing::form_for(DeployedTag::W8A8Dynamic);
  dynamic_asym.act.symmetric = false;  // asymmetric per-token activations have no IR (§2.6)
  DeployedForm wrong_tag = slim::testing::form_for(DeployedTag::W8A16);
  wrong_tag.tag = DeployedTag::W8A8Dynamic;
  DeployedForm stray_group = slim::testing::form_for(DeployedTag::WFp8AFp8Dynamic);
  stray_group.weight.group_size = 64;
  slim::testing::TempDir dir;
  for (const auto& format : quantized_formats()) {
    QuantizedSaveOptions options;
    options.save_path = dir.file(format);
    const auto saver = make_quantized_saver(format, options);
    EXPECT_ERROR_WITH(saver->check(dynamic_asym), "W8A8_DYNAMIC", "int8 per_token asym");
    EXPECT_ERROR_WITH(saver->check(wrong_tag), "deploys as W8A16, not as W8A8_DYNAMIC");
    EXPECT_ERROR_WITH(saver->check(stray_group), "group size", "64");
  }
}

TEST(QuantizedSaver, RefusalsSayWhatTheFormatCannotHold) {
  slim::testing::TempDir dir;
  QuantizedSaveOptions options;
  options.save_path = dir.file("a");
  const auto ascend = make_quantized_saver("ascendv1", options);
  EXPECT_ERROR_WITH(ascend->check(slim::testing::form_for(DeployedTag::W8A8Dynamic, 128, true)),
                    "ascendv1 cannot hold W8A8_DYNAMIC", "int8 per_group(128) asym",
                    "weight_offset as zeros");
  options.save_path = dir.file("c");
  const auto compressed = make_quantized_saver("compressed-tensors", options);
  EXPECT_ERROR_WITH(compressed->check(slim::testing::form_for(DeployedTag::W8A8Dynamic, 128)),
                    "compressed-tensors cannot hold W8A8_DYNAMIC", "per-channel weight scales",
                    "the format holds FLOAT, W8A16, W4A16, W8A8_DYNAMIC, W8A8, WFP8AFP8_DYNAMIC");
  EXPECT_ERROR_WITH(compressed->check(slim::testing::form_for(DeployedTag::W4A4MxFp4)),
                    "compressed-tensors cannot hold W4A4_MXFP4", "mxfp4 per_block sym");
}

TEST(QuantizedSaver, FloatLinearsAreDeclaredAsLinears) {
  slim::testing::TempDir dir;
  const at::Tensor weight = at::randn({4, 8}).to(at::kBFloat16);
  const at::Tensor bias = at::randn({4});

  AscendV1SaveOptions ascend_options;
  ascend_options.save_path = dir.file("ascend");
  AscendV1Saver ascend(ascend_options);
  ascend.add_float_linear("model.layers.0.mlp.down_proj", weight, bias);
  ascend.add_float("model.layers.0.mlp.up_proj.weight", weight);  // no role guessed: FLOAT too
  ascend.finish();
  const AscendV1Reader ascend_reader(dir.file("ascend"));
  EXPECT_EQ(ascend_reader.description()["model.layers.0.mlp.down_proj.weight"], "FLOAT");
  EXPECT_EQ(ascend_reader.description()["model.layers.0.mlp.down_proj.bias"], "FLOAT");
  EXPECT_TRUE(at::equal(ascend_reader.tensor("model.layers.0.mlp.down_proj.weight"), weight));
  EXPECT_TRUE(at::equal(ascend_reader.tensor("model.layers.0.mlp.down_proj.bias"), bias));

  CompressedTensorsSaveOptions ct_options;
  ct_options.save_path = dir.file("ct");
  CompressedTensorsSaver compressed(ct_options);
  compressed.add_float_linear("model.layers.0.mlp.down_proj", weight, bias);
  // A 2-D float tensor given as a tensor is not taken for a linear.
  compressed.add_float("model.layers.0.mlp.up_proj.weight", weight);
  EXPECT_EQ(compressed.quantization_config()["ignore"],
            nlohmann::json({"model.layers.0.mlp.down_proj", "lm_head"}));
  compressed.finish();
  const CompressedTensorsReader ct_reader(dir.file("ct"));
  EXPECT_TRUE(ct_reader.linears().empty());
  EXPECT_TRUE(at::equal(ct_reader.tensor("model.layers.0.mlp.down_proj.weight"), weight));

  AscendV1SaveOptions bad_options;
  bad_options.save_path = dir.file("bad");
  AscendV1Saver bad(bad_options);
  EXPECT_ERROR_WITH(bad.add_float_linear("m", at::ones({4}), std::nullopt), "'m'", "2-D");
  EXPECT_ERROR_WITH(bad.add_float_linear("m", at::ones({4, 2}, at::kInt), std::nullopt), "'m'",
                    "floating");
  EXPECT_ERROR_WITH(bad.add_float_linear("m", at::ones({4, 2}), at::ones({3})), "'m'", "bias");
}

TEST(QuantizedSaver, ExtrasAreWrittenOrRefusedByName) {
  slim::testing::TempDir dir;
  QuantizedSaveOptions options;
  options.save_path = dir.file("ascend");
  const auto ascend = make_quantized_saver("ascendv1", options);
  ascend->add_extra("model.layers.0.self_attn.k_proj.kv_cache_scale", at::ones({4}), "C8");
  EXPECT_ERROR_WITH(ascend->add_extra("x", at::ones({2}), "FLOAT"), "'x'", "'FLOAT'", "add_float");
  ascend->finish();
  const auto description =
      nlohmann::json::parse(slim::read_file(dir.file("ascend") + "/" + kAscendV1Description));
  EXPECT_EQ(description["model.layers.0.self_attn.k_proj.kv_cache_scale"], "C8");
  EXPECT_EQ(description["kv_quant_type"], "C8");

  options.save_path = dir.file("ct");
  const auto compressed = make_quantized_saver("compressed-tensors", options);
  EXPECT_ERROR_WITH(
      compressed->add_extra("model.layers.0.self_attn.k_proj.kv_cache_scale", at::ones({4}), "C8"),
      "compressed-tensors", "'model.layers.0.self_attn.k_proj.kv_cache_scale'", "'C8'",
      "kv_cache_scheme", "ascendv1");
}

}  // namespace
}  // namespace slim::exporter
