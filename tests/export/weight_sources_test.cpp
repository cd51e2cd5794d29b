// model::open_weight_source over every kind of input: a Hugging Face directory (and a single
// .safetensors file), the data-free pipeline's Ascend V1 and compressed-tensors outputs, every
// tag saved by the savers (with C8 / FAQuant attention extras), and GGUF files exported from
// random Llama and Qwen3 models. Records read through a source equal what was saved, float
// tensors round-trip, detection picks the right kind, and bad inputs are errors naming the tensor.
#include "slim/model/weight_source.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/export/ascendv1.h"
#include "slim/export/compressed_tensors.h"
#include "slim/export/gguf_export.h"
#include "slim/io/gguf_import.h"
#include "slim/io/safetensors.h"
#include "slim/model/random_model.h"
#include "slim/pipeline/data_free_convert.h"
#include "slim/quant/numerics.h"
#include "support/deployed_records.h"
#include "support/expect_error.h"
#include "support/expect_records.h"
#include "support/gguf_builder.h"
#include "support/temp_dir.h"

namespace slim::model {
namespace {

namespace fs = std::filesystem;
using quant::DeployedLinear;
using quant::DeployedTag;
using testing::expect_same_record;
using testing::random_linear;
using testing::RandomLinearOptions;
using testing::TempDir;

std::string write_model(const TempDir& dir, const std::string& name,
                        const std::string& architecture = "Qwen2ForCausalLM",
                        bool tie_word_embeddings = false) {
  RandomModelOptions options;
  options.architecture = architecture;  // Qwen2: q/k/v biases travel with their linears
  options.vocab_size = 260;
  options.hidden_size = 64;
  options.intermediate_size = 128;
  options.num_hidden_layers = 2;
  options.tie_word_embeddings = tie_word_embeddings;
  options.seed = 5;
  write_random_model(options, dir.file(name));
  return dir.file(name);
}

std::string convert(const std::string& model, const std::string& out, const std::string& format,
                    const std::string& scheme, int64_t group_size = 0, bool asym = false) {
  pipeline::DataFreeConvertOptions options;
  options.model_path = model;
  options.save_path = out;
  options.format = format;
  options.scheme = scheme;
  options.group_size = group_size;
  options.asym = asym;
  options.exclude = {"*.mlp.down_proj"};
  // The records are compared with deploy_linear's, whose default numerics are msModelSlim's.
  options.numerics = quant::Numerics::MsModelSlim;
  pipeline::data_free_convert(options);
  return out;
}

// Rewrites a safetensors file without `drop`; every other tensor keeps its bytes and dtype.
void drop_tensor(const std::string& file, const std::string& drop) {
  const auto in = io::SafetensorsFile::open(file);
  const std::string staging = file + ".staging";
  fs::create_directories(staging);
  io::SafetensorsWriterOptions options;
  options.basename = fs::path(file).stem().string();
  options.metadata = in->metadata();
  {
    io::SafetensorsWriter writer(staging, options);
    bool dropped = false;
    for (const auto& info : in->tensors()) {
      if (info.name == drop) {
        dropped = true;
        continue;
      }
      writer.add_raw(info.name, info.dtype, info.shape, in->data(info), info.nbytes());
    }
    ASSERT_TRUE(dropped) << drop;
    writer.finish();
  }
  fs::rename(staging + "/" + fs::path(file).filename().string(), file);
  fs::remove_all(staging);
  // And from the index, so that the checkpoint itself stays consistent.
  for (const auto& entry : fs::directory_iterator(fs::path(file).parent_path())) {
    const std::string index = entry.path().string();
    if (index.size() < 23 || index.compare(index.size() - 23, 23, ".safetensors.index.json") != 0)
      continue;
    auto json = nlohmann::ordered_json::parse(read_file(index));
    json["weight_map"].erase(drop);
    write_file(index, json.dump(2));
  }
}

void edit_json(const std::string& path, const std::function<void(nlohmann::ordered_json&)>& edit) {
  auto json = nlohmann::ordered_json::parse(read_file(path));
  edit(json);
  write_file(path, json.dump(4));
}

// ------------------------------------------------------------------ Hugging Face

TEST(WeightSource, HuggingFaceDirectoryAndSafetensorsFile) {
  TempDir dir;
  const std::string model = write_model(dir, "hf");
  const auto checkpoint = io::SafetensorsCheckpoint::open(model);
  for (const std::string& path : {model, model + "/model.safetensors"}) {
    SCOPED_TRACE(path);
    const auto source = open_weight_source(path);
    EXPECT_TRUE(starts_with(source->describe(), "Hugging Face checkpoint")) << source->describe();
    EXPECT_EQ(source->config().architecture, "Qwen2ForCausalLM");
    for (const auto& name : checkpoint.names()) {
      EXPECT_EQ(source->float_shape(name), checkpoint.info(name).shape) << name;
      EXPECT_TRUE(testing::same_bits(source->float_tensor(name), checkpoint.tensor(name))) << name;
    }
    EXPECT_FALSE(source->deployed_linear("model.layers.0.self_attn.q_proj").has_value());
    EXPECT_TRUE(source->attention_extras(0).empty());
    EXPECT_FALSE(source->float_shape("model.layers.9.mlp.up_proj.weight").has_value());
    EXPECT_ERROR_WITH(source->float_tensor("model.layers.9.mlp.up_proj.weight"),
                      "'model.layers.9.mlp.up_proj.weight'", model);
    source->release(checkpoint.names());
    EXPECT_TRUE(at::equal(source->float_tensor("model.norm.weight"),
                          checkpoint.tensor("model.norm.weight")));
  }
}

TEST(WeightSource, MemoryTensorsAreUsedAsTheyAre) {
  TempDir dir;
  const std::string model = write_model(dir, "hf");
  const at::Tensor norm = at::ones({64});
  const auto source =
      memory_weight_source(io::load_model_config(model), {{"model.norm.weight", norm}});
  EXPECT_EQ(source->float_tensor("model.norm.weight").data_ptr(), norm.data_ptr());
  EXPECT_EQ(source->float_shape("model.norm.weight"), (std::vector<int64_t>{64}));
  EXPECT_ERROR_WITH(source->float_tensor("lm_head.weight"), "'lm_head.weight'");
}

// ------------------------------------------------------------------ converted checkpoints

struct ConvertCase {
  const char* format;
  const char* scheme;
  int64_t group_size;
  bool asym;
};

class WeightSourceConverted : public ::testing::TestWithParam<ConvertCase> {};

TEST_P(WeightSourceConverted, RecordsAndFloatTensorsAreWhatWasSaved) {
  const ConvertCase c = GetParam();
  TempDir dir;
  const std::string model = write_model(dir, "hf");
  const std::string out = convert(model, dir.file("out"), c.format, c.scheme, c.group_size, c.asym);
  const auto source = open_weight_source(out);
  const bool ascend = std::string(c.format) == "ascendv1";
  EXPECT_TRUE(starts_with(source->describe(),
                          ascend ? "Ascend V1 directory" : "compressed-tensors directory"))
      << source->describe();
  EXPECT_EQ(source->config().architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(source->config().num_hidden_layers, 2);

  std::vector<std::string> linears;
  std::function<DeployedLinear(const std::string&)> saved;
  std::unique_ptr<exporter::AscendV1Reader> ascend_reader;
  std::unique_ptr<exporter::CompressedTensorsReader> ct_reader;
  if (ascend) {
    ascend_reader = std::make_unique<exporter::AscendV1Reader>(out);
    linears = ascend_reader->linears();
    saved = [&](const std::string& m) { return ascend_reader->linear(m); };
  } else {
    ct_reader = std::make_unique<exporter::CompressedTensorsReader>(out);
    linears = ct_reader->linears();
    saved = [&](const std::string& m) { return ct_reader->linear(m); };
  }
  EXPECT_EQ(linears.size(), 2u * 6u);  // 7 linears per layer, down_proj excluded

  const auto original = io::SafetensorsCheckpoint::open(model);
  const auto is_quantized_weight = [&](const std::string& name) {
    for (const auto& m : linears) {
      if (name == m + ".weight") return true;
    }
    return false;
  };
  for (const auto& module : linears) {
    const auto record = source->deployed_linear(module);
    ASSERT_TRUE(record.has_value()) << module;
    expect_same_record(saved(module), *record, false);
    // What data_free_convert saved: the fake-quantized weight, bit for bit.
    const at::Tensor weight = original.tensor(module + ".weight");
    quant::QScheme scheme = record->weight;
    EXPECT_TRUE(at::equal(quant::dequantize_weight(*record, weight.scalar_type()),
                          quant::fake_quantize_weight(module, weight, scheme)))
        << module;
    EXPECT_FALSE(source->float_shape(module + ".weight").has_value());
    EXPECT_ERROR_WITH(source->float_tensor(module + ".weight"), str("'", module, ".weight'"),
                      "belongs to the quantized linear", str("'", module, "'"));
  }
  // Everything else (embeddings, norms, excluded linears, biases of quantized linears): the
  // original values; dtypes kept except biases, which Ascend V1 stores as fp32.
  for (const auto& name : original.names()) {
    if (is_quantized_weight(name)) continue;
    SCOPED_TRACE(name);
    ASSERT_EQ(source->float_shape(name), original.info(name).shape);
    const at::Tensor got = source->float_tensor(name);
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (!bias) {
      EXPECT_EQ(got.scalar_type(), original.tensor(name).scalar_type());
    }
    EXPECT_TRUE(at::equal(got.to(at::kFloat), original.tensor(name).to(at::kFloat)));
  }
  EXPECT_FALSE(source->deployed_linear("model.layers.0.mlp.down_proj").has_value());
  EXPECT_TRUE(source->attention_extras(0).empty());
  source->release({"model.layers.0.mlp.up_proj", "model.layers.1.mlp.up_proj.weight"});
  EXPECT_TRUE(source->deployed_linear("model.layers.0.mlp.up_proj").has_value());
}

INSTANTIATE_TEST_SUITE_P(Schemes, WeightSourceConverted,
                         ::testing::Values(ConvertCase{"ascendv1", "w8a16", 0, false},
                                           ConvertCase{"ascendv1", "w8a16", 32, true},
                                           ConvertCase{"ascendv1", "w4a16", 32, false},
                                           ConvertCase{"ascendv1", "wfp8", 0, false},
                                           ConvertCase{"ascendv1", "mxfp8", 0, false},
                                           ConvertCase{"ascendv1", "mxfp4", 0, false},
                                           ConvertCase{"compressed-tensors", "w8a16", 0, false},
                                           ConvertCase{"compressed-tensors", "w4a16", 32, true},
                                           ConvertCase{"compressed-tensors", "wfp8", 0, false}),
                         [](const auto& info) {
                           std::string name = std::string(info.param.format) + "_" +
                                              info.param.scheme + "_g" +
                                              std::to_string(info.param.group_size) +
                                              (info.param.asym ? "_asym" : "");
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

// ------------------------------------------------------------------ every tag, through the savers

struct TagCase {
  DeployedTag tag;
  int64_t group_size;
  bool asym;
};

// A random record of a bf16 model (the model dtype the random models' config.json gives).
DeployedLinear bf16_record(const TagCase& c, const std::string& name, uint64_t seed,
                           int64_t in = 64) {
  RandomLinearOptions options;
  options.group_size = c.group_size;
  options.asym = c.asym;
  options.model_dtype = at::kBFloat16;
  options.in = in;
  options.seed = seed;
  return random_linear(c.tag, name, options);
}

TEST(WeightSource, AscendV1EveryTagAndAttentionExtras) {
  const std::vector<TagCase> cases = {
      {DeployedTag::W8A8, 0, true},          {DeployedTag::W8A8, 0, false},
      {DeployedTag::W8A8Mix, 0, true},       {DeployedTag::W8A8Dynamic, 0, false},
      {DeployedTag::W8A8Dynamic, 16, false}, {DeployedTag::W8A16, 16, true},
      {DeployedTag::W4A16, 32, true},        {DeployedTag::W4A8Dynamic, 0, false},
      {DeployedTag::W4A4Dynamic, 16, true},  {DeployedTag::WFp8AFp8Dynamic, 0, false},
      {DeployedTag::W8A8MxFp8, 0, false},    {DeployedTag::W4A8MxFp, 0, false},
      {DeployedTag::W4A4MxFp4, 0, false},
  };
  TempDir dir;
  const std::string model = write_model(dir, "hf");  // bf16: the model dtype of the records
  exporter::AscendV1SaveOptions options;
  options.save_path = dir.file("out");
  options.part_file_bytes = 4000;  // several shards
  options.model_path = model;
  exporter::AscendV1Saver saver(options);
  saver.add_float("model.embed_tokens.weight", at::randn({16, 64}).to(at::kBFloat16));
  std::vector<DeployedLinear> saved;
  for (size_t i = 0; i < cases.size(); ++i) {
    // Layer 0's k_proj is quantized and carries the C8 scales beside its own tensors.
    const std::string name =
        i == 0 ? "model.layers.0.self_attn.k_proj" : str("model.layers.", i, ".mlp.up_proj");
    saved.push_back(bf16_record(cases[i], name, 30 + i, 96));
    saver.add_linear(saved.back());
  }
  DeployedLinear pruned = random_linear(DeployedTag::W16A16S, "model.layers.1.mlp.gate_proj");
  pruned.weight_codes = pruned.weight_codes.to(at::kBFloat16);
  saver.add_linear(pruned);
  const std::map<std::string, at::Tensor> c8 = {
      {"model.layers.0.self_attn.k_proj.kv_cache_scale", at::rand({32})},
      {"model.layers.0.self_attn.k_proj.kv_cache_offset", at::zeros({32})},
      {"model.layers.0.self_attn.v_proj.kv_cache_scale", at::rand({32})},
      {"model.layers.0.self_attn.v_proj.kv_cache_offset", at::zeros({32})},
  };
  for (const auto& [name, tensor] : c8)
    saver.add_extra(name, tensor, "C8");
  const std::map<std::string, at::Tensor> fa = {
      {"model.layers.1.self_attn.fa_q.scale", at::rand({4, 1})},
      {"model.layers.1.self_attn.fa_q.offset", at::zeros({4, 1})},
  };
  for (const auto& [name, tensor] : fa)
    saver.add_extra(name, tensor, "FAQuant");
  saver.add_description("model.layers.1.self_attn.quant_type", "INT8");
  saver.finish();

  const auto source = open_weight_source(dir.file("out"));
  EXPECT_TRUE(starts_with(source->describe(), "Ascend V1 directory"));
  for (const auto& record : saved) {
    const auto loaded = source->deployed_linear(record.name);
    ASSERT_TRUE(loaded.has_value()) << record.name;
    expect_same_record(record, *loaded);
    EXPECT_FALSE(source->float_shape(record.name + ".weight").has_value());
    ASSERT_TRUE(source->float_shape(record.name + ".bias").has_value()) << record.name;
    EXPECT_TRUE(
        at::equal(source->float_tensor(record.name + ".bias"), loaded->bias->to(at::kFloat)));
  }
  // W16A16S: pruned float weights.
  EXPECT_FALSE(source->deployed_linear(pruned.name).has_value());
  EXPECT_TRUE(at::equal(source->float_tensor(pruned.name + ".weight"), pruned.weight_codes));
  EXPECT_TRUE(at::equal(source->float_tensor(pruned.name + ".bias"), *pruned.bias));
  // Attention extras by layer.
  const AttentionExtras layer0 = source->attention_extras(0);
  ASSERT_EQ(layer0.tensors.size(), c8.size());
  for (const auto& [name, tensor] : c8)
    EXPECT_TRUE(at::equal(layer0.tensors.at(name), tensor)) << name;
  const AttentionExtras layer1 = source->attention_extras(1);
  ASSERT_EQ(layer1.tensors.size(), fa.size());
  for (const auto& [name, tensor] : fa)
    EXPECT_TRUE(at::equal(layer1.tensors.at(name), tensor)) << name;
  EXPECT_TRUE(source->attention_extras(5).empty());
  EXPECT_FALSE(source->float_shape("model.layers.0.self_attn.k_proj.kv_cache_scale").has_value());
}

TEST(WeightSource, CompressedTensorsEveryTag) {
  const std::vector<TagCase> cases = {
      {DeployedTag::W8A8, 0, true},         {DeployedTag::W8A8, 0, false},
      {DeployedTag::W8A8Dynamic, 0, false}, {DeployedTag::W8A16, 0, true},
      {DeployedTag::W4A16, 16, true},       {DeployedTag::WFp8AFp8Dynamic, 0, false},
  };
  TempDir dir;
  const std::string model = write_model(dir, "hf");
  exporter::CompressedTensorsSaveOptions options;
  options.save_path = dir.file("out");
  options.model_path = model;
  exporter::CompressedTensorsSaver saver(options);
  std::vector<DeployedLinear> saved;
  for (size_t i = 0; i < cases.size(); ++i) {
    saved.push_back(bf16_record(cases[i], str("model.layers.", i, ".mlp.up_proj"), 60 + i));
    saver.add_linear(saved.back());
  }
  DeployedLinear plain = random_linear(DeployedTag::Float, "model.layers.0.mlp.down_proj");
  saver.add_linear(plain);
  saver.add_float("model.norm.weight", at::ones({64}, at::kBFloat16));
  saver.finish();

  const auto source = open_weight_source(dir.file("out"));
  EXPECT_TRUE(starts_with(source->describe(), "compressed-tensors directory"));
  for (const auto& record : saved) {
    const auto loaded = source->deployed_linear(record.name);
    ASSERT_TRUE(loaded.has_value()) << record.name;
    expect_same_record(record, *loaded, false);
    EXPECT_FALSE(source->float_shape(record.name + ".weight").has_value());
  }
  EXPECT_FALSE(source->deployed_linear(plain.name).has_value());
  EXPECT_TRUE(at::equal(source->float_tensor(plain.name + ".weight"), plain.weight_codes));
  EXPECT_TRUE(at::equal(source->float_tensor("model.norm.weight"), at::ones({64}, at::kBFloat16)));
}

// ------------------------------------------------------------------ errors

class WeightSourceErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = write_model(dir_, "hf");
    out_ = convert(model_, dir_.file("out"), "ascendv1", "w8a16");
    weights_ = out_ + "/quant_model_weights-00001-of-00001.safetensors";
    description_ = out_ + "/" + exporter::kAscendV1Description;
    ASSERT_TRUE(fs::exists(weights_));
  }
  TempDir dir_;
  std::string model_, out_, weights_, description_;
};

TEST_F(WeightSourceErrors, AscendV1WithoutItsDescription) {
  fs::remove(description_);
  EXPECT_ERROR_WITH(open_weight_source(out_), out_, exporter::kAscendV1Description, "missing");
}

TEST_F(WeightSourceErrors, AscendV1WithoutConfig) {
  fs::remove(out_ + "/config.json");
  EXPECT_ERROR_WITH(open_weight_source(out_), out_, "config.json is missing");
}

TEST_F(WeightSourceErrors, AscendV1FloatTensorMissingFromTheShards) {
  drop_tensor(weights_, "model.norm.weight");
  EXPECT_ERROR_WITH(open_weight_source(out_), "'model.norm.weight'", "none of the weight files");
}

TEST_F(WeightSourceErrors, AscendV1ScaleMissingFromTheShards) {
  drop_tensor(weights_, "model.layers.0.mlp.up_proj.weight_scale");
  EXPECT_ERROR_WITH(open_weight_source(out_), "'model.layers.0.mlp.up_proj.weight_scale'");
}

TEST_F(WeightSourceErrors, AscendV1UnknownTag) {
  edit_json(description_, [](nlohmann::ordered_json& d) {
    for (const char* suffix : {"weight", "weight_scale", "weight_offset"})
      d[str("model.layers.0.mlp.up_proj.", suffix)] = "W3A5";
  });
  EXPECT_ERROR_WITH(open_weight_source(out_), "'model.layers.0.mlp.up_proj.weight'", "'W3A5'",
                    "cannot run");
}

TEST_F(WeightSourceErrors, AscendV1InconsistentTags) {
  edit_json(description_, [](nlohmann::ordered_json& d) {
    d["model.layers.0.mlp.up_proj.weight_scale"] = "W8A8_DYNAMIC";
  });
  EXPECT_ERROR_WITH(open_weight_source(out_), "'model.layers.0.mlp.up_proj.weight_scale'",
                    "W8A8_DYNAMIC", "W8A16");
}

TEST_F(WeightSourceErrors, AscendV1TensorTheDescriptionDoesNotList) {
  edit_json(description_, [](nlohmann::ordered_json& d) { d.erase("model.norm.weight"); });
  EXPECT_ERROR_WITH(open_weight_source(out_), "'model.norm.weight'", "not listed");
}

TEST_F(WeightSourceErrors, AscendV1RecordOfTheWrongDtype) {
  // A W8A16 weight stored as fp32: found when the linear is read, naming the tensor.
  {
    const auto in = io::SafetensorsFile::open(weights_);
    io::SafetensorsWriterOptions options;
    options.basename = fs::path(weights_).stem().string();
    const std::string staging = out_ + "/staging";
    fs::create_directories(staging);
    io::SafetensorsWriter writer(staging, options);
    for (const auto& info : in->tensors()) {
      if (info.name == "model.layers.0.mlp.up_proj.weight") {
        writer.add(info.name, in->tensor(info.name).to(at::kFloat));
      } else {
        writer.add_raw(info.name, info.dtype, info.shape, in->data(info), info.nbytes());
      }
    }
    writer.finish();
    fs::rename(staging + "/" + fs::path(weights_).filename().string(), weights_);
  }
  const auto source = open_weight_source(out_);
  EXPECT_ERROR_WITH(source->deployed_linear("model.layers.0.mlp.up_proj"),
                    "'model.layers.0.mlp.up_proj.weight'", "W8A16", "I8", "F32");
}

TEST_F(WeightSourceErrors, CompressedTensorsScaleMissingFromTheShards) {
  const std::string ct = convert(model_, dir_.file("ct"), "compressed-tensors", "w8a16");
  drop_tensor(ct + "/model.safetensors", "model.layers.1.self_attn.o_proj.weight_scale");
  // The packed weight is left without the scale that made its module a quantized linear.
  EXPECT_ERROR_WITH(open_weight_source(ct), "'model.layers.1.self_attn.o_proj.weight_",
                    "not floating point",
                    "'model.layers.1.self_attn.o_proj.weight_scale' is missing");
}

TEST_F(WeightSourceErrors, DetectionNamesThePathAndWhatWasExpected) {
  EXPECT_ERROR_WITH(open_weight_source(dir_.file("nothing")), dir_.file("nothing"),
                    "no such file or directory");
  fs::create_directories(dir_.file("empty"));
  EXPECT_ERROR_WITH(open_weight_source(dir_.file("empty")), dir_.file("empty"),
                    "neither config.json");
  write_file(dir_.file("notes.txt"), "hello");
  EXPECT_ERROR_WITH(open_weight_source(dir_.file("notes.txt")), "notes.txt", "a .safetensors file",
                    "a .gguf file");
  edit_json(model_ + "/config.json", [](nlohmann::ordered_json& c) {
    c["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}};
  });
  EXPECT_ERROR_WITH(open_weight_source(model_), "config.json", "'gptq'");
  // Weights without their description still read as Ascend V1, and say what is missing.
  fs::remove(description_);
  EXPECT_ERROR_WITH(open_weight_source(out_), exporter::kAscendV1Description);
}

TEST_F(WeightSourceErrors, TruncatedGguf) {
  exporter::GgufExportOptions options;
  options.model_path = write_model(dir_, "llama", "LlamaForCausalLM");
  options.save_path = dir_.file("m.gguf");
  exporter::export_gguf(options);
  fs::resize_file(options.save_path, fs::file_size(options.save_path) / 2);
  EXPECT_ERROR_WITH(open_weight_source(options.save_path), options.save_path);
}

// ------------------------------------------------------------------ GGUF

struct GgufCase {
  const char* architecture;
  const char* outtype;
  bool tie_word_embeddings;
};

class WeightSourceGguf : public ::testing::TestWithParam<GgufCase> {};

TEST_P(WeightSourceGguf, EveryTensorEqualsTheOriginal) {
  const GgufCase c = GetParam();
  TempDir dir;
  const std::string model = write_model(dir, "hf", c.architecture, c.tie_word_embeddings);
  exporter::GgufExportOptions options;
  options.model_path = model;
  options.save_path = dir.file("model.gguf");
  options.outtype = c.outtype;
  exporter::export_gguf(options);

  const auto source = open_weight_source(options.save_path);
  EXPECT_TRUE(starts_with(source->describe(), "GGUF file")) << source->describe();
  const io::ModelConfig original_config = io::load_model_config(model);
  const io::ModelConfig& config = source->config();
  EXPECT_EQ(config.architecture, original_config.architecture);
  EXPECT_EQ(config.vocab_size, original_config.vocab_size);
  EXPECT_EQ(config.hidden_size, original_config.hidden_size);
  EXPECT_EQ(config.intermediate_size, original_config.intermediate_size);
  EXPECT_EQ(config.num_hidden_layers, original_config.num_hidden_layers);
  EXPECT_EQ(config.num_attention_heads, original_config.num_attention_heads);
  EXPECT_EQ(config.num_key_value_heads, original_config.num_key_value_heads);
  EXPECT_EQ(config.head_dim, original_config.head_dim);
  EXPECT_EQ(config.tie_word_embeddings, original_config.tie_word_embeddings);
  EXPECT_EQ(config.rms_norm_eps, original_config.rms_norm_eps);
  EXPECT_EQ(config.rope_theta, original_config.rope_theta);

  const auto original = io::SafetensorsCheckpoint::open(model);
  for (const auto& name : original.names()) {
    SCOPED_TRACE(name);
    const at::Tensor want = original.tensor(name);
    ASSERT_EQ(source->float_shape(name), want.sizes().vec());
    // bf16 -> bf16 / f32 is exact; 1-D tensors are always f32 in GGUF.
    const at::Tensor got = source->float_tensor(name);
    EXPECT_TRUE(at::equal(got.to(at::kFloat), want.to(at::kFloat)));
  }
  EXPECT_FALSE(source->deployed_linear("model.layers.0.self_attn.q_proj").has_value());
  EXPECT_EQ(source->float_shape("lm_head.weight").has_value(), !c.tie_word_embeddings);
  EXPECT_ERROR_WITH(source->float_tensor("model.layers.7.mlp.up_proj.weight"),
                    "'model.layers.7.mlp.up_proj.weight'", options.save_path);
  source->release(original.names());
}

INSTANTIATE_TEST_SUITE_P(Models, WeightSourceGguf,
                         ::testing::Values(GgufCase{"LlamaForCausalLM", "bf16", false},
                                           GgufCase{"LlamaForCausalLM", "f32", true},
                                           GgufCase{"Qwen3ForCausalLM", "bf16", false},
                                           GgufCase{"Qwen3ForCausalLM", "f32", true}),
                         [](const auto& info) {
                           return std::string(info.param.architecture).substr(0, 5) + "_" +
                                  info.param.outtype +
                                  (info.param.tie_word_embeddings ? "_tied" : "");
                         });

// A llama.cpp-quantized tensor (Q8_0) comes back dequantized to fp32, the others as stored, and
// the source agrees with import_gguf tensor for tensor.
TEST(WeightSource, GgufQuantizedTensorsAndImportAgree) {
  using io::GgmlType;
  const int64_t hidden = 32, heads = 2, kv_heads = 1, head_dim = 16, ff = 48, vocab = 8;
  testing::GgufBuilder gguf;
  gguf.kv_string("general.architecture", "llama")
      .kv_u32("llama.block_count", 1)
      .kv_u32("llama.context_length", 256)
      .kv_u32("llama.embedding_length", hidden)
      .kv_u32("llama.feed_forward_length", ff)
      .kv_u32("llama.attention.head_count", heads)
      .kv_u32("llama.attention.head_count_kv", kv_heads)
      .kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .kv_f32("llama.rope.freq_base", 10000.0f);
  std::map<std::string, at::Tensor> expected;
  int64_t counter = 0;
  const auto add = [&](const std::string& gguf_name, std::vector<int64_t> shape,
                       int64_t permute_heads = 0) {
    const at::Tensor hf = at::randn(shape) + static_cast<double>(++counter);
    const at::Tensor stored =
        permute_heads ? exporter::permute_rope_rows(hf, permute_heads).contiguous() : hf;
    gguf.tensor(gguf_name, GgmlType::F32, std::vector<int64_t>(shape.rbegin(), shape.rend()),
                std::string(static_cast<const char*>(stored.data_ptr()), stored.numel() * 4));
    expected[io::hf_tensor_name(gguf_name)] = hf;
  };
  add("token_embd.weight", {vocab, hidden});
  add("blk.0.attn_norm.weight", {hidden});
  add("blk.0.attn_q.weight", {heads * head_dim, hidden}, heads);
  add("blk.0.attn_k.weight", {kv_heads * head_dim, hidden}, kv_heads);
  add("blk.0.attn_v.weight", {kv_heads * head_dim, hidden});
  add("blk.0.attn_output.weight", {hidden, heads * head_dim});
  add("blk.0.ffn_norm.weight", {hidden});
  add("blk.0.ffn_gate.weight", {ff, hidden});
  add("blk.0.ffn_down.weight", {hidden, ff});
  add("output_norm.weight", {hidden});
  // ffn_up in Q8_0: one block per row, scale 2^-(r % 4) (fp16 bits), quants (j - 16 + r).
  std::string q8;
  at::Tensor up = at::empty({ff, hidden});
  const uint16_t scales[4] = {0x3C00, 0x3800, 0x3400, 0x3000};
  for (int64_t r = 0; r < ff; ++r) {
    q8.push_back(static_cast<char>(scales[r % 4] & 0xFF));
    q8.push_back(static_cast<char>(scales[r % 4] >> 8));
    for (int64_t j = 0; j < hidden; ++j) {
      const int8_t q = static_cast<int8_t>(j - 16 + r);
      q8.push_back(static_cast<char>(q));
      up[r][j] = static_cast<float>(q) * std::ldexp(1.0f, -static_cast<int>(r % 4));
    }
  }
  gguf.tensor("blk.0.ffn_up.weight", GgmlType::Q8_0, {hidden, ff}, q8);
  expected["model.layers.0.mlp.up_proj.weight"] = up;
  TempDir dir;
  const std::string path = dir.file("tiny.gguf");
  write_file(path, gguf.build());

  const auto source = open_weight_source(path);
  EXPECT_TRUE(source->config().tie_word_embeddings);
  EXPECT_EQ(source->config().head_dim, head_dim);
  io::GgufImportOptions options;
  options.gguf_path = path;
  options.save_path = dir.file("imported");
  options.dtype = at::kFloat;
  io::import_gguf(options);
  const auto imported = io::SafetensorsCheckpoint::open(options.save_path);
  EXPECT_EQ(imported.names().size(), expected.size());
  for (const auto& [name, values] : expected) {
    SCOPED_TRACE(name);
    const at::Tensor got = source->float_tensor(name);
    EXPECT_EQ(got.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(got, values));
    EXPECT_TRUE(at::equal(got, imported.tensor(name)));
  }
}

}  // namespace
}  // namespace slim::model
