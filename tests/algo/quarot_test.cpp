// QuaRot (src/algo/quarot.cpp): the rotated float model of every family gives the original logits
// (saved and reloaded, tied embeddings untied), the fixture's layers commute with the rotation,
// planted outlier channels quantize at least twice better once rotated, the later processors
// calibrate in the rotated basis, and bad configs or orders are refused by name.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "slim/algo/processor.h"
#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/io/safetensors.h"
#include "slim/model/causal_lm.h"
#include "slim/model/family.h"
#include "slim/model/random_model.h"
#include "slim/pipeline/quantize.h"
#include "slim_test_paths.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using namespace slim;
using slim::testing::TempDir;

const std::string kFixture = std::string(SLIM_SOURCE_DIR) + "/models/sotu-llama-13m";

std::unique_ptr<algo::Processor> processor(const std::string& yaml) {
  const YAML::Node node = YAML::Load(yaml);
  return algo::make_processor({node["type"].as<std::string>(), node, "spec.process[0]"});
}

std::string write_model(const TempDir& dir, const std::string& arch, bool tied) {
  model::RandomModelOptions options;
  options.architecture = arch;
  options.vocab_size = 300;
  options.num_experts = 4;
  options.num_experts_per_tok = 2;
  options.tie_word_embeddings = tied;
  options.dtype = c10::kFloat;  // the saved output holds the rotation without rounding
  options.logit_scale = 8.0;
  const std::string path = dir.file(arch + (tied ? "-tied" : ""));
  model::write_random_model(options, path);
  return path;
}

std::string short_calibration_set(const TempDir& dir) {
  const std::string calib = dir.file("calib.jsonl");
  std::ofstream out(calib);
  for (const char* text : {"The state of the union is strong.", "We hold these truths."})
    out << "{\"inputs_pretokenized\": \"" << text << "\"}\n";
  return calib;
}

pipeline::QuantizeOptions quantize_options(const std::string& model, const std::string& save,
                                           const std::string& calib, const std::string& process) {
  pipeline::QuantizeOptions options;
  options.model_path = model;
  options.save_path = save;
  options.overwrite = true;
  options.dataset = calib;
  options.config = pipeline::parse_quant_config(
      "apiversion: modelslim_v1\nspec:\n  process:\n" + process, "test.yaml");
  return options;
}

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}

// Every family, tied and untied, in both formats: the saved rotated model (no quantization) gives
// the original logits; every decoder linear, the embedding and the lm_head changed; the final
// norm is ones; a tied model comes out untied; the rotation is written and orthogonal.
TEST(Quarot, TheRotatedFloatModelOfEveryFamilyKeepsItsLogits) {
  TempDir dir;
  at::manual_seed(11);
  const at::Tensor ids = at::randint(0, 256, {1, 40}, at::kLong);
  const std::string calib = short_calibration_set(dir);
  const model::GlobalTensorNames& names = model::global_tensor_names();
  for (const char* arch :
       {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
        "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM", "MixtralForCausalLM"}) {
    for (bool tied : {false, true}) {
      const std::string source = write_model(dir, arch, tied);
      const at::Tensor reference = model::CausalLM::open(source)->forward(ids);
      const auto original = io::SafetensorsCheckpoint::open(source);
      for (const char* format : {"ascendv1_saver", "compressed_tensors"}) {
        SCOPED_TRACE(std::string(arch) + (tied ? " tied " : " ") + format);
        auto options = quantize_options(
            source, dir.file("rotated"), calib,
            "    - {type: quarot}\n  save:\n    - {type: " + std::string(format) + "}\n");
        pipeline::quantize_model(options);
        const at::Tensor rotated = model::CausalLM::open(options.save_path)->forward(ids);
        EXPECT_LT(relative_difference(rotated, reference), 1e-4);

        const auto saved = io::SafetensorsCheckpoint::open(options.save_path);
        for (const auto& name : original.names()) {
          // Norms become ones (or stay: q/k norms); q/k biases are outputs nothing rotates.
          if (name.find("norm") != std::string::npos || ends_with(name, "q_proj.bias") ||
              ends_with(name, "k_proj.bias"))
            continue;
          ASSERT_TRUE(saved.contains(name)) << name;
          EXPECT_FALSE(at::allclose(saved.tensor(name), original.tensor(name), 1e-6, 0)) << name;
        }
        EXPECT_TRUE(at::equal(saved.tensor(names.final_norm),
                              at::ones_like(original.tensor(names.final_norm))));
        ASSERT_TRUE(saved.contains(names.lm_head));
        const auto config = read_json(options.save_path + "/config.json");
        EXPECT_EQ(config["tie_word_embeddings"], false);

        const auto extra =
            io::SafetensorsCheckpoint::open(options.save_path + "/optional/quarot.safetensors");
        const at::Tensor q = extra.tensor("global_rotation");
        ASSERT_EQ(q.sizes(), (std::vector<int64_t>{64, 64}));
        EXPECT_LT((at::matmul(q, q.t()) - at::eye(64)).abs().max().item<double>(), 1e-5);
        if (std::string(format) == "ascendv1_saver") {
          const auto description = read_json(options.save_path + "/quant_model_description.json");
          EXPECT_EQ(description["optional"]["quarot"]["rotation_map"]["global_rotation"],
                    "optional/quarot.safetensors");
        }
      }
    }
  }
}

// block_size: a block-diagonal rotation, exact too; export_extra_info false writes no file.
TEST(Quarot, BlockRotationsAreExactAndTheExtraInfoIsOptional) {
  TempDir dir;
  at::manual_seed(12);
  const at::Tensor ids = at::randint(0, 256, {1, 32}, at::kLong);
  const std::string source = write_model(dir, "Qwen2ForCausalLM", true);
  const at::Tensor reference = model::CausalLM::open(source)->forward(ids);
  auto options =
      quantize_options(source, dir.file("blocks"), short_calibration_set(dir),
                       "    - {type: quarot, block_size: 16, export_extra_info: false}\n");
  pipeline::quantize_model(options);
  EXPECT_LT(relative_difference(model::CausalLM::open(options.save_path)->forward(ids), reference),
            1e-4);
  EXPECT_FALSE(std::filesystem::exists(options.save_path + "/optional/quarot.safetensors"));
  const auto description = read_json(options.save_path + "/quant_model_description.json");
  EXPECT_TRUE(description["optional"].empty());
}

// A GlobalTensors over a checkpoint, as the runner makes it.
algo::GlobalTensors globals_of(const io::SafetensorsCheckpoint& checkpoint, bool tied) {
  return algo::GlobalTensors(
      [&checkpoint](const std::string& name) { return checkpoint.tensor(name); },
      [](const std::string&) { return at::kFloat; }, tied);
}

// The trained fixture (bf16, in fp32 in memory): each rotated layer maps x·Q to layer(x)·Q, and
// the embedding rows are the original rows rotated.
TEST(Quarot, TheFixtureLayersCommuteWithTheRotation) {
  const auto lm = model::CausalLM::open(kFixture);
  const auto checkpoint = io::SafetensorsCheckpoint::open(kFixture);
  algo::GlobalTensors globals = globals_of(checkpoint, lm->config().tie_word_embeddings);
  algo::RunContext run;
  run.config = &lm->config();
  run.globals = &globals;
  auto quarot = processor("{type: quarot}");
  quarot->pre_run(run);
  const at::Tensor q = globals.global_rotation();
  ASSERT_EQ(q.size(0), lm->config().hidden_size);
  EXPECT_TRUE(globals.untied());
  at::manual_seed(4);
  const at::Tensor ids = at::randint(0, 32000, {1, 48}, at::kLong);
  const at::Tensor embedded = lm->embed(ids);
  const at::Tensor rotated_rows =
      at::index_select(globals.get(model::global_tensor_names().embedding), 0, ids.reshape(-1));
  EXPECT_LT(relative_difference(rotated_rows, at::matmul(embedded[0], q)), 1e-5);
  auto context = lm->make_context(1, 48);
  for (int64_t k : {0, 5}) {
    model::DecoderLayer layer = lm->load_layer(k);
    const at::Tensor x = embedded * 20;
    const at::Tensor before = lm->run_layer(layer, x, context);
    std::map<std::string, quant::DeployedLinear> deployed;
    algo::LayerUnit unit;
    unit.layer = &layer;
    unit.deployed = &deployed;
    quarot->preprocess(run, unit);
    quarot->postprocess(run, unit);
    const at::Tensor after = lm->run_layer(layer, at::matmul(x, q), context);
    EXPECT_LT(relative_difference(after, at::matmul(before, q)), 1e-4) << "layer " << k;
    for (const auto& norm : layer.norms()) {
      if (norm.role == "attn_norm" || norm.role == "ffn_norm") {
        EXPECT_TRUE(at::equal(norm.weight, at::ones_like(norm.weight))) << norm.name;
      }
    }
  }
}

// A layer whose input has a handful of channels ×50: W8A8 static per-tensor quantization of the
// linears reading the rotated stream errs at least twice less once the layer is rotated.
TEST(Quarot, PlantedOutliersQuantizeAtLeastTwiceBetter) {
  TempDir dir;
  model::RandomModelOptions options;
  options.hidden_size = 128;
  options.intermediate_size = 256;
  options.num_hidden_layers = 1;
  options.dtype = c10::kFloat;
  model::write_random_model(options, dir.file("m"));
  const auto lm = model::CausalLM::open(dir.file("m"));
  const auto checkpoint = io::SafetensorsCheckpoint::open(dir.file("m"));
  at::manual_seed(9);
  std::vector<at::Tensor> inputs;
  for (int i = 0; i < 4; ++i) {
    at::Tensor x = at::randn({1, 64, 128});
    for (int64_t c : {5, 33, 77, 100})
      x.select(2, c).mul_(50);
    inputs.push_back(x);
  }
  auto context = lm->make_context(1, 64);
  algo::GlobalTensors globals = globals_of(checkpoint, false);
  algo::RunContext run;
  run.config = &lm->config();
  run.model_dtype = at::kFloat;
  run.stored_dtype = [](const std::string&) { return at::kFloat; };
  run.globals = &globals;
  auto quarot = processor("{type: quarot}");
  quarot->pre_run(run);
  const at::Tensor q = globals.global_rotation();
  // The linears that read the rotated stream.
  const std::string w8a8_static =
      "{type: linear_quant, include: ['*q_proj', '*k_proj', '*v_proj', '*gate_proj', '*up_proj'],"
      " qconfig: {act: {scope: per_tensor, dtype: int8, symmetric: false},"
      " weight: {scope: per_channel, dtype: int8, symmetric: true}}}";
  // RMSE of the quantized layer's outputs (rotated back) against the float layer's.
  auto error = [&](bool rotate) {
    model::DecoderLayer layer = lm->load_layer(0);
    std::vector<at::Tensor> reference, fed;
    for (const auto& x : inputs) {
      reference.push_back(lm->run_layer(layer, x, context));
      fed.push_back(rotate ? at::matmul(x, q) : x);
    }
    std::map<std::string, quant::DeployedLinear> deployed;
    algo::LayerUnit unit;
    unit.layer = &layer;
    unit.deployed = &deployed;
    unit.samples = fed.size();
    unit.input = [&fed](size_t i) { return fed[i]; };
    if (rotate) quarot->preprocess(run, unit);
    auto quant = processor(w8a8_static);
    quant->preprocess(run, unit);
    for (const auto& x : fed)
      lm->run_layer(layer, x, context);
    unit.input_ranges.clear();
    quant->postprocess(run, unit);
    layer.clear_hooks();
    double squared = 0;
    for (size_t i = 0; i < fed.size(); ++i) {
      at::Tensor out = lm->run_layer(layer, fed[i], context);
      if (rotate) out = at::matmul(out, q.t());
      squared += (out - reference[i]).pow(2).mean().item<double>();
    }
    return std::sqrt(squared / fed.size());
  };
  const double plain = error(false);
  const double rotated = error(true);
  EXPECT_GE(plain / rotated, 2.0) << plain << " vs " << rotated;
}

// The processors after quarot calibrate on the rotated model: quarot + W8A8 static in one run
// writes exactly what W8A8 static writes for the saved rotated model (read back as a plain
// checkpoint): the same static scales, so the calibration saw the rotated embedding and layers.
TEST(Quarot, LaterProcessorsCalibrateInTheRotatedBasis) {
  TempDir dir;
  const std::string source = write_model(dir, "LlamaForCausalLM", true);
  const std::string calib = short_calibration_set(dir);
  const std::string w8a8 =
      "    - {type: linear_quant, qconfig: {act: {scope: per_tensor, dtype: int8, symmetric: "
      "false}, weight: {scope: per_channel, dtype: int8, symmetric: true}}}\n";
  auto combined =
      quantize_options(source, dir.file("combined"), calib, "    - {type: quarot}\n" + w8a8);
  pipeline::quantize_model(combined);

  auto rotation = quantize_options(source, dir.file("rotation"), calib, "    - {type: quarot}\n");
  pipeline::quantize_model(rotation);
  // The rotated float model as a Hugging Face directory.
  const std::string rotated = dir.file("rotated-hf");
  std::filesystem::create_directories(rotated);
  for (const auto& entry : std::filesystem::directory_iterator(source)) {
    if (entry.path().extension() != ".safetensors")
      std::filesystem::copy_file(entry.path(), rotated + "/" + entry.path().filename().string());
  }
  std::filesystem::copy_file(rotation.save_path + "/config.json", rotated + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
  for (const auto& entry : std::filesystem::directory_iterator(rotation.save_path)) {
    if (entry.path().extension() == ".safetensors")  // one shard
      std::filesystem::copy_file(entry.path(), rotated + "/model.safetensors");
  }
  auto sequential = quantize_options(rotated, dir.file("sequential"), calib, w8a8);
  pipeline::quantize_model(sequential);

  const auto one = io::SafetensorsCheckpoint::open(combined.save_path);
  const auto two = io::SafetensorsCheckpoint::open(sequential.save_path);
  ASSERT_EQ(one.names(), two.names());
  int scales = 0;
  for (const auto& name : one.names()) {
    EXPECT_TRUE(at::equal(one.tensor(name), two.tensor(name))) << name;
    scales += ends_with(name, "input_scale");
  }
  EXPECT_GT(scales, 0);
  EXPECT_EQ(read_json(combined.save_path + "/config.json")["tie_word_embeddings"], false);
}

TEST(Quarot, RefusesBadConfigsAndOrders) {
  EXPECT_ERROR_WITH(processor("{type: quarot, online: true}"),
                    "spec.process[0].online: true (msModelSlim's online rotations");
  EXPECT_ERROR_WITH(processor("{type: quarot, down_proj_online_layers: [1, 2]}"),
                    "spec.process[0].down_proj_online_layers: online Kronecker rotations");
  EXPECT_ERROR_WITH(processor("{type: quarot, max_tp_size: 3}"),
                    "spec.process[0].max_tp_size: must be a power of two, found 3");
  EXPECT_ERROR_WITH(processor("{type: quarot, block_size: 0}"),
                    "spec.process[0].block_size: expected -1");
  EXPECT_ERROR_WITH(processor("{type: quarot, block_size: 52}"),
                    "block_size is 52, for which Slim builds no Hadamard matrix");
  EXPECT_ERROR_WITH(processor("{type: quarot, seed: 3}"), "seed");
  EXPECT_NO_THROW(
      processor("{type: quarot, online: false, block_size: 32, max_tp_size: 8, "
                "down_proj_online_layers: [], export_extra_info: true}"));

  TempDir dir;
  const std::string source = write_model(dir, "LlamaForCausalLM", false);
  const std::string calib = short_calibration_set(dir);
  auto late = quantize_options(source, dir.file("late"), calib,
                               "    - {type: iter_smooth}\n    - {type: quarot}\n");
  EXPECT_ERROR_WITH(pipeline::quantize_model(late),
                    "processor quarot transforms the embedding and lm_head");
  EXPECT_FALSE(std::filesystem::exists(late.save_path));
  auto after_quant = quantize_options(
      source, dir.file("after"), calib,
      "    - {type: linear_quant, qconfig: {weight: {dtype: int8, scope: per_channel}}}\n"
      "    - {type: quarot}\n");
  EXPECT_ERROR_WITH(pipeline::quantize_model(after_quant), "is already quantized");
  auto indivisible = quantize_options(source, dir.file("indivisible"), calib,
                                      "    - {type: quarot, block_size: 128}\n");
  EXPECT_ERROR_WITH(pipeline::quantize_model(indivisible),
                    "spec.process[0].block_size: 128 does not divide the model's hidden_size 64");
}

}  // namespace
