// Data-free conversion end to end: every scheme into both formats, read back with the readers,
// each linear equal bit for bit to the in-memory fake-quantized weight, everything else unchanged.
#include "slim/pipeline/data_free_convert.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "slim/core/files.h"
#include "slim/export/ascendv1.h"
#include "slim/export/compressed_tensors.h"
#include "slim/export/quantized_saver.h"
#include "slim/io/safetensors.h"
#include "slim/model/random_model.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace slim::pipeline {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string scheme;
  std::string format;
  int64_t group_size;
  bool asym;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.scheme << " " << c.format << " g" << c.group_size << (c.asym ? " asym" : "");
}

// Every data-free scheme of the deployed-form table in both formats: its default form and, where
// the row has them, asymmetric and per-group (32) weights. W4A16's default group (128) does not
// divide the test model's dims, so it is tried per group 32 only.
std::vector<Case> every_case() {
  const auto asym = [](quant::Symmetry s) {
    return s == quant::Symmetry::Asym || s == quant::Symmetry::Either;
  };
  std::vector<Case> out;
  for (const auto& format : exporter::quantized_formats()) {
    for (const auto& scheme : data_free_schemes()) {
      const quant::DeployedFormSpec& spec = *quant::find_form_by_cli_name(scheme);
      if (spec.default_group_size == 0) {
        out.push_back({scheme, format, 0, false});
        if (asym(spec.weight.symmetry)) out.push_back({scheme, format, 0, true});
      }
      if (spec.weight.per_group != quant::Symmetry::None) {
        if (spec.weight.per_group != quant::Symmetry::Asym)
          out.push_back({scheme, format, 32, false});
        if (asym(spec.weight.per_group)) out.push_back({scheme, format, 32, true});
      }
    }
  }
  return out;
}

// The form the pipeline is expected to choose.
quant::DeployedForm form_of(const Case& c) {
  const quant::DeployedFormSpec& spec = *quant::find_form_by_cli_name(c.scheme);
  return quant::make_form(spec, c.group_size > 0 ? c.group_size : spec.default_group_size, c.asym);
}

// Whether the format holds the form (the saver's check, the truth the pipeline relies on).
std::string refusal_of(const Case& c, const std::string& scratch) {
  exporter::QuantizedSaveOptions options;
  options.save_path = scratch;
  try {
    exporter::make_quantized_saver(c.format, options)->check(form_of(c));
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

class DataFreeConvert : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    model::RandomModelOptions random;
    random.architecture = "Qwen2ForCausalLM";  // q/k/v biases: they must travel with their linear
    random.vocab_size = 258;
    random.hidden_size = 64;
    random.intermediate_size = 128;
    random.num_hidden_layers = 2;
    random.tie_word_embeddings = true;
    model::write_random_model(random, dir_.file("src"));
  }
  testing::TempDir dir_;
};

TEST_P(DataFreeConvert, ReadsBackAsTheFakeQuantizedModel) {
  const Case c = GetParam();
  DataFreeConvertOptions options;
  options.model_path = dir_.file("src");
  options.save_path = dir_.file("out");
  options.format = c.format;
  options.scheme = c.scheme;
  options.group_size = c.group_size;
  options.asym = c.asym;
  options.exclude = {"*.mlp.down_proj", "model.layers.{1}.self_attn.o_proj"};
  EXPECT_EQ(options.numerics, quant::Numerics::Precise);  // the default
  const quant::DeployedForm form = form_of(c);
  const std::string refusal = refusal_of(c, dir_.file("scratch"));
  if (!refusal.empty()) {
    // Refused up front, naming the format, the form and the flags, and nothing written.
    EXPECT_ERROR_WITH(data_free_convert(options), "--format " + c.format, "--scheme " + c.scheme,
                      refusal);
    EXPECT_FALSE(fs::exists(dir_.file("out")));
    return;
  }
  const auto summary = data_free_convert(options);
  EXPECT_EQ(summary.quantized_linears, 2 * 7 - 3);
  EXPECT_GT(summary.input_bytes, 0u);

  const auto source = io::SafetensorsCheckpoint::open(dir_.file("src"));
  const quant::QScheme weight_scheme = form.weight;
  std::function<quant::DeployedLinear(const std::string&)> linear;
  std::function<at::Tensor(const std::string&)> tensor;
  std::vector<std::string> linears;
  std::unique_ptr<exporter::AscendV1Reader> ascend;
  std::unique_ptr<exporter::CompressedTensorsReader> compressed;
  EXPECT_EQ(summary.tag, quant::tag_name(form.tag));
  if (c.format == "ascendv1") {
    ascend = std::make_unique<exporter::AscendV1Reader>(dir_.file("out"));
    linears = ascend->linears();
    linear = [&](const std::string& m) { return ascend->linear(m); };
    tensor = [&](const std::string& n) { return ascend->tensor(n); };
    // W4A16 too (ranked above W8A16). W4A8_DYNAMIC never ranks, so the float linears (excluded,
    // lm_head) make the model FLOAT, as msModelSlim's on_float_linear does.
    EXPECT_EQ(ascend->model_quant_type(),
              quant::model_type_priority(form.tag) ? summary.tag : std::string("FLOAT"));
    // Tied embeddings: msModelSlim's saver writes both keys.
    EXPECT_TRUE(at::equal(tensor("lm_head.weight"), source.tensor("model.embed_tokens.weight")));
  } else {
    compressed = std::make_unique<exporter::CompressedTensorsReader>(dir_.file("out"));
    linears = compressed->linears();
    linear = [&](const std::string& m) { return compressed->linear(m); };
    tensor = [&](const std::string& n) { return compressed->tensor(n); };
  }
  EXPECT_EQ(static_cast<int64_t>(linears.size()), summary.quantized_linears);
  for (const auto& module : linears) {
    const quant::DeployedLinear record = linear(module);
    const at::Tensor original = source.tensor(module + ".weight");
    const at::Tensor expected =
        quant::fake_quantize_weight(module, original, weight_scheme, options.numerics);
    const at::Tensor got = quant::dequantize_weight(record, original.scalar_type());
    EXPECT_TRUE(at::equal(got, expected)) << module;
    if (source.contains(module + ".bias")) {
      ASSERT_TRUE(record.bias.has_value()) << module;
      EXPECT_TRUE(
          at::equal(record.bias->to(at::kFloat), source.tensor(module + ".bias").to(at::kFloat)))
          << module;
    }
  }
  // Excluded linears and every other tensor: unchanged.
  for (const char* name :
       {"model.layers.0.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight",
        "model.layers.1.self_attn.o_proj.weight", "model.embed_tokens.weight", "model.norm.weight",
        "model.layers.1.post_attention_layernorm.weight"}) {
    EXPECT_TRUE(at::equal(tensor(name), source.tensor(name))) << name;
  }
  const auto config = nlohmann::json::parse(read_file(dir_.file("out") + "/config.json"));
  EXPECT_EQ(config["architectures"][0], "Qwen2ForCausalLM");
  EXPECT_TRUE(fs::exists(dir_.file("out") + "/tokenizer.json"));
}

INSTANTIATE_TEST_SUITE_P(Schemes, DataFreeConvert, ::testing::ValuesIn(every_case()),
                         [](const auto& info) {
                           std::string name = info.param.scheme + "_" + info.param.format + "_g" +
                                              std::to_string(info.param.group_size) +
                                              (info.param.asym ? "_asym" : "");
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(DataFreeConvertErrors, NameWhatIsWrong) {
  testing::TempDir dir;
  model::RandomModelOptions random;
  random.hidden_size = 64;
  random.intermediate_size = 128;
  model::write_random_model(random, dir.file("src"));
  DataFreeConvertOptions options;
  options.model_path = dir.file("src");
  options.save_path = dir.file("out");
  options.format = "ascendv1";
  options.scheme = "w3a16";
  EXPECT_ERROR_WITH(data_free_convert(options), "'w3a16'", "w8a16, w4a16, w8a8_dynamic, wfp8");
  // Static activations need calibration; float forms are not a weight quantization.
  options.scheme = "w8a8";
  EXPECT_ERROR_WITH(data_free_convert(options), "--scheme w8a8 (W8A8)", "statically", "calibration",
                    "w8a16");
  options.scheme = "w8a8_mix";
  EXPECT_ERROR_WITH(data_free_convert(options), "W8A8_MIX", "statically");
  options.scheme = "w16a16s";
  EXPECT_ERROR_WITH(data_free_convert(options), "W16A16S", "not a min/max quantization");
  options.scheme = "wfp8";
  options.asym = true;
  EXPECT_ERROR_WITH(data_free_convert(options), "--scheme wfp8 --asym", "WFP8AFP8_DYNAMIC",
                    "sym only");
  options.asym = false;
  options.scheme = "w4a8_dynamic";
  options.group_size = 32;
  EXPECT_ERROR_WITH(data_free_convert(options), "--group_size 32", "W4A8_DYNAMIC",
                    "no per_group form");
  options.group_size = 0;
  options.scheme = "w8a8_dynamic";
  options.asym = true;  // asymmetric per-channel int8 weights have no W8A8_DYNAMIC form
  EXPECT_ERROR_WITH(data_free_convert(options), "--asym", "per_channel weights are sym only");
  options.asym = false;
  options.scheme = "mxfp4";
  options.format = "compressed-tensors";
  EXPECT_ERROR_WITH(data_free_convert(options), "compressed-tensors", "W4A4_MXFP4", "mxfp4");
  options.format = "gguf";
  EXPECT_ERROR_WITH(data_free_convert(options), "gguf", "ascendv1, compressed-tensors");
  EXPECT_FALSE(fs::exists(dir.file("out")));  // refused before anything was written
  options.format = "ascendv1";
  options.exclude = {"model.layers.{0"};
  EXPECT_ERROR_WITH(data_free_convert(options), "model.layers.{0");
  options.exclude.clear();
  options.scheme = "w4a16";
  options.group_size = 48;  // does not divide 64
  EXPECT_THROW(data_free_convert(options), slim::Error);
  EXPECT_FALSE(fs::exists(dir.file("out")));  // nothing half-written
  fs::create_directories(dir.file("out"));
  write_file(dir.file("out") + "/x", "x");
  options.group_size = 32;
  EXPECT_ERROR_WITH(data_free_convert(options), "out");
}

}  // namespace
}  // namespace slim::pipeline
