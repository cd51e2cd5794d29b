// Whole-CLI runs of `slim quant`: practices and configs (V1, V0), the layer-wise runner with and
// without calibration, the saved outputs evaluated from disk, and every bad input the command
// refuses with a clear message before writing anything.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <ATen/ATen.h>

#include "slim/core/files.h"
#include "slim/io/safetensors.h"
#include "slim_test_paths.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::run_slim;
using slim::testing::TempDir;
namespace fs = std::filesystem;

const std::string kFixture = std::string(SLIM_SOURCE_DIR) + "/models/sotu-llama-13m";
const std::string kCalib = std::string(SLIM_SOURCE_DIR) + "/data/calib/sotu_calib.jsonl";
const std::string kEval = std::string(SLIM_SOURCE_DIR) + "/data/eval/sotu_2001_2021.txt";

std::string quant(const std::string& save_path, const std::string& extra) {
  return "quant --model_path '" + kFixture + "' --save_path '" + save_path + "' " + extra;
}

nlohmann::json description(const std::string& dir) {
  return nlohmann::json::parse(slim::read_file(dir + "/quant_model_description.json"));
}

double ppl_of(const std::string& model, const TempDir& dir) {
  const auto run = run_slim("eval ppl --model_path '" + model + "' --dataset '" + kEval +
                                "' --seq_len 256 --max_chunks 4 --json",
                            dir.file("eval.err"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  if (run.exit_code != 0) return NAN;
  return nlohmann::json::parse(run.out)["perplexity"].get<double>();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(QuantCli, W8A16IsTheDataFreeConversion) {
  TempDir dir;
  for (const std::string numerics : {"msmodelslim", "precise"}) {
    const auto run =
        run_slim(quant(dir.file("q-" + numerics),
                       "--model_type sotu-llama-13m --quant_type w8a16 --numerics " + numerics),
                 dir.file("err"));
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_NE(run.out.find("42 linears quantized"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("0 samples"), std::string::npos) << run.out;  // data-free: no forward
    const auto convert = run_slim("convert --model_path '" + kFixture + "' --save_path '" +
                                      dir.file("c-" + numerics) +
                                      "' --format ascendv1 --scheme w8a16 --numerics " + numerics,
                                  dir.file("err"));
    ASSERT_EQ(convert.exit_code, 0) << convert.err;
    // The same records through a different pipeline: the same bytes.
    for (const std::string file :
         {"quant_model_weights-00001-of-00001.safetensors", "quant_model_description.json"}) {
      EXPECT_EQ(slim::read_file(dir.file("q-" + numerics + "/" + file)),
                slim::read_file(dir.file("c-" + numerics + "/" + file)))
          << numerics << " " << file;
    }
  }
  // The conventions differ; the resolved practice is saved beside the weights.
  const std::string weights = "/quant_model_weights-00001-of-00001.safetensors";
  EXPECT_NE(slim::read_file(dir.file("q-precise") + weights),
            slim::read_file(dir.file("q-msmodelslim") + weights));
  const std::string practice =
      slim::read_file(dir.file("q-precise/sotu-llama-13m_best_practice.yaml"));
  EXPECT_NE(practice.find("llama-w8a16"), std::string::npos) << practice;
  EXPECT_NE(practice.find("numerics: precise"), std::string::npos) << practice;
}

// msModelSlim's dp_layer_wise runner over one device is the layer-wise computation, and a
// spec.prior stage reaches the main stage only through context none of Slim's processors leaves:
// such a YAML runs unchanged and writes the bytes of the plain one.
TEST(QuantCli, DataParallelRunnerAndPriorStagesRunUnchanged) {
  TempDir dir;
  const std::string w8a16 =
      "{type: linear_quant, qconfig: {act: {dtype: float}, weight: {dtype: int8, scope: "
      "per_channel, symmetric: true}}, include: ['*']}";
  write(dir.file("plain.yaml"), "apiversion: modelslim_v1\nspec:\n  process: [" + w8a16 + "]\n");
  write(dir.file("dp.yaml"),
        "apiversion: modelslim_v1\nspec:\n  runner: dp_layer_wise\n"
        "  prior:\n    - process: [{type: iter_smooth}, " +
            w8a16 + "]\n  process: [" + w8a16 + "]\n");
  for (const std::string name : {"plain", "dp"}) {
    const auto run = run_slim(
        quant(dir.file(name), "--config_path '" + dir.file(name + ".yaml") + "'"), dir.file("err"));
    ASSERT_EQ(run.exit_code, 0) << run.err;
    if (name == "dp") {
      EXPECT_NE(run.err.find("spec.prior[0] (iter_smooth, linear_quant) skipped"),
                std::string::npos)
          << run.err;
      EXPECT_NE(run.err.find("dp_layer_wise on one device: running layer_wise"), std::string::npos)
          << run.err;
    }
  }
  const std::string weights = "/quant_model_weights-00001-of-00001.safetensors";
  EXPECT_EQ(slim::read_file(dir.file("plain") + weights),
            slim::read_file(dir.file("dp") + weights));
}

TEST(QuantCli, StaticW8A8CalibratesAndTheSavedOutputRuns) {
  TempDir dir;
  const auto run = run_slim(quant(dir.file("q"), "--config_path default-w8a8-static --dataset '" +
                                                     kCalib + "' --calib_samples 4 --debug"),
                            dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("4 samples"), std::string::npos) << run.out;
  const auto json = description(dir.file("q"));
  EXPECT_EQ(json["model_quant_type"], "W8A8");
  EXPECT_EQ(json["model.layers.0.self_attn.q_proj.input_scale"], "W8A8");
  EXPECT_EQ(json["model.layers.5.mlp.down_proj.deq_scale"], "W8A8");
  EXPECT_EQ(json["lm_head.weight"], "FLOAT");
  EXPECT_TRUE(fs::exists(dir.file("q/debug_info/debug_info.json")));
  const double float_ppl = ppl_of(kFixture, dir);
  const double quant_ppl = ppl_of(dir.file("q"), dir);
  EXPECT_TRUE(std::isfinite(quant_ppl));
  EXPECT_LT(std::abs(quant_ppl / float_ppl - 1), 0.05) << float_ppl << " vs " << quant_ppl;
}

// `method: histogram` for static activations (V1, and V0's act_method 2): the clip ranges it
// saves lie inside the observed min/max ranges (narrower somewhere), and the saved output runs.
// V0's act_method 3 chooses per linear between the two by the input's range score
// (`range_score_threshold`): a threshold below every score gives min/max's ranges, one above
// every score the histogram's.
TEST(QuantCli, HistogramStaticActivationsAreSavedAndRun) {
  TempDir dir;
  const auto yaml = [](const std::string& method) {
    return "apiversion: modelslim_v1\nspec:\n  process:\n    - type: linear_quant\n"
           "      qconfig:\n        act: {dtype: int8, scope: per_tensor, symmetric: false, "
           "method: " +
           method + "}\n        weight: {dtype: int8, scope: per_channel, symmetric: true}\n";
  };
  write(dir.file("minmax.yaml"), yaml("minmax"));
  write(dir.file("histogram.yaml"), yaml("histogram"));
  write(dir.file("low.yaml"), yaml("histogram, ext: {range_score_threshold: 0.001}"));
  write(dir.file("high.yaml"), yaml("histogram, ext: {range_score_threshold: 1e9}"));
  const auto v0 = [](int act_method) {
    return "apiversion: modelslim_v0\nspec:\n  calib_cfg: {w_bit: 8, a_bit: 8, mm_tensor: False, "
           "act_method: " +
           std::to_string(act_method) + "}\n";
  };
  write(dir.file("v0.yaml"), v0(2));
  write(dir.file("v0-auto.yaml"), v0(3));
  for (const std::string name : {"minmax", "histogram", "v0", "low", "high", "v0-auto"}) {
    const auto run =
        run_slim(quant(dir.file(name), "--config_path '" + dir.file(name + ".yaml") +
                                           "' --dataset '" + kCalib + "' --calib_samples 4"),
                 dir.file("err"));
    ASSERT_EQ(run.exit_code, 0) << name << ": " << run.err;
  }
  const std::string weights = "/quant_model_weights-00001-of-00001.safetensors";
  const auto minmax = slim::io::SafetensorsFile::open(dir.file("minmax") + weights);
  const auto histogram = slim::io::SafetensorsFile::open(dir.file("histogram") + weights);
  // A V0 config saves one unsharded file.
  const auto open_v0 = [&](const std::string& name) {
    return slim::io::SafetensorsFile::open(dir.file(name + "/quant_model_weights.safetensors"));
  };
  const auto v0_histogram = open_v0("v0");
  const auto v0_auto = open_v0("v0-auto");
  const auto low = slim::io::SafetensorsFile::open(dir.file("low") + weights);
  const auto high = slim::io::SafetensorsFile::open(dir.file("high") + weights);
  int narrower = 0;
  int scales = 0;
  for (const auto& info : minmax->tensors()) {
    const std::string& name = info.name;
    if (name.find("input_scale") == std::string::npos) continue;
    ++scales;
    const float wide = minmax->tensor(name).item<float>();
    const float clipped = histogram->tensor(name).item<float>();
    EXPECT_LE(clipped, wide * (1 + 1e-6)) << name;
    if (clipped < wide * 0.99) ++narrower;
    EXPECT_EQ(clipped, v0_histogram->tensor(name).item<float>()) << name;  // the same processor
    EXPECT_EQ(wide, low->tensor(name).item<float>()) << name;
    EXPECT_EQ(clipped, high->tensor(name).item<float>()) << name;
    // Layer 0 sees the float inputs in every run (later layers see the outputs of the earlier
    // ones as deployed, which a per-linear mix changes).
    if (name.rfind("model.layers.0.", 0) == 0) {
      const float chosen = v0_auto->tensor(name).item<float>();
      EXPECT_TRUE(chosen == wide || chosen == clipped) << name;
    }
  }
  EXPECT_EQ(scales, 42);
  EXPECT_GT(narrower, 0);
  const double float_ppl = ppl_of(kFixture, dir);
  const double histogram_ppl = ppl_of(dir.file("histogram"), dir);
  EXPECT_LT(std::abs(histogram_ppl / float_ppl - 1), 0.05) << float_ppl << " vs " << histogram_ppl;
  // Histograms observe static per-tensor int8 activations only.
  write(dir.file("bad.yaml"),
        "apiversion: modelslim_v1\nspec:\n  process:\n    - type: linear_quant\n"
        "      qconfig:\n        act: {dtype: int8, scope: per_token, method: histogram}\n"
        "        weight: {dtype: int8, scope: per_channel}\n");
  const auto bad = run_slim(quant(dir.file("bad"), "--config_path '" + dir.file("bad.yaml") + "'"),
                            dir.file("err"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("histogram observes static int8 per_tensor activations"),
            std::string::npos)
      << bad.err;
  write(dir.file("bad2.yaml"), yaml("minmax, ext: {range_score_threshold: 5}"));
  const auto bad2 = run_slim(
      quant(dir.file("bad2"), "--config_path '" + dir.file("bad2.yaml") + "'"), dir.file("err"));
  EXPECT_EQ(bad2.exit_code, 2);
  EXPECT_NE(bad2.err.find("range_score_threshold"), std::string::npos) << bad2.err;
  write(dir.file("bad3.yaml"), yaml("histogram, ext: {range_score_threshold: 0}"));
  const auto bad3 = run_slim(
      quant(dir.file("bad3"), "--config_path '" + dir.file("bad3.yaml") + "'"), dir.file("err"));
  EXPECT_EQ(bad3.exit_code, 2);
  EXPECT_NE(bad3.err.find("range_score_threshold: expected a positive number, found 0"),
            std::string::npos)
      << bad3.err;
  EXPECT_FALSE(fs::exists(dir.file("bad3")));
}

// msModelSlim's own V1 YAMLs with outlier suppression run unchanged: its default-w8a8
// (iter_smooth, then W8A8 dynamic, runner model_wise) and iter_smooth + W8A8 static. The saved
// norms carry the smoothing, and the saved outputs score within 5% of the float model.
TEST(QuantCli, MsModelSlimSmoothingYamlsRunUnchanged) {
  TempDir dir;
  write(dir.file("default-w8a8.yaml"), R"(apiversion: modelslim_v1
metadata:
  config_id: default-w8a8
  score: 100
  verified_model_types: []
  label:
    w_bit: 8
    a_bit: 8
    is_sparse: False
    kv_cache: False
default_w8a8_dynamic: &default_w8a8_dynamic
  weight:
    scope: "per_channel"
    dtype: "int8"
    symmetric: True
    method: "minmax"
  act:
    scope: "per_token"
    dtype: "int8"
    symmetric: True
    method: "minmax"
spec:
  process:
    - type: "iter_smooth"
      alpha: 0.9
      scale_min: 1e-5
      symmetric: True
      enable_subgraph_type:
        - 'norm-linear'
        - 'linear-linear'
        - 'ov'
        - 'up-down'
      include:
        - "*"
    - type: "linear_quant"
      qconfig: *default_w8a8_dynamic
      include: [ "*" ]
  runner: model_wise
  save:
    - type: "ascendv1_saver"
      part_file_size: 4
  dataset: mix_calib.jsonl
)");
  write(dir.file("iter-static.yaml"), R"(apiversion: modelslim_v1
spec:
  runner: model_wise
  process:
    - type: iter_smooth
      alpha: 0.5
    - type: linear_quant
      qconfig:
        act: {scope: per_tensor, dtype: int8, symmetric: false, method: minmax}
        weight: {scope: per_channel, dtype: int8, symmetric: true, method: minmax}
      include: ["*"]
      exclude: ["*mlp.down_proj"]
  save: [{type: ascendv1_saver, part_file_size: 4}]
)");
  // The shape of msModelSlim's quarot practices (online false, the rotation exported), over the
  // whole-model runner.
  write(dir.file("quarot-w8a8.yaml"), R"(apiversion: modelslim_v1
spec:
  runner: model_wise
  process:
    - type: "quarot"
      online: False
      block_size: -1
      max_tp_size: 4
      down_proj_online_layers: []
      export_extra_info: True
    - type: "flex_smooth_quant"
      enable_subgraph_type: ['norm-linear', 'ov']
    - type: "linear_quant"
      qconfig:
        act: {scope: "per_token", dtype: "int8", symmetric: True, method: "minmax"}
        weight: {scope: "per_channel", dtype: "int8", symmetric: True, method: "minmax"}
      include: ["*"]
  save: [{type: ascendv1_saver, part_file_size: 4}]
)");
  const double float_ppl = ppl_of(kFixture, dir);
  const auto original = slim::io::SafetensorsCheckpoint::open(kFixture);
  for (const std::string name : {"default-w8a8", "iter-static", "quarot-w8a8"}) {
    SCOPED_TRACE(name);
    const auto run = run_slim(
        quant(dir.file(name), "--config_path '" + dir.file(name + ".yaml") + "' --calib_samples 2"),
        dir.file("err"));
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_NE((run.out + run.err).find("msModelSlim's built-in set"), std::string::npos);
    const auto json = description(dir.file(name));
    EXPECT_EQ(json["model_quant_type"], name == "iter-static" ? "W8A8" : "W8A8_DYNAMIC");
    EXPECT_EQ(fs::exists(dir.file(name) + "/optional/quarot.safetensors"), name == "quarot-w8a8");
    const auto saved = slim::io::SafetensorsCheckpoint::open(dir.file(name));
    const std::string norm = "model.layers.2.input_layernorm.weight";
    EXPECT_FALSE(at::equal(saved.tensor(norm), original.tensor(norm)));
    const double quant_ppl = ppl_of(dir.file(name), dir);
    EXPECT_LT(std::abs(quant_ppl / float_ppl - 1), 0.05) << float_ppl << " vs " << quant_ppl;
  }
}

TEST(QuantCli, OffloadedActivationsGiveTheSameBytesAndAreRemoved) {
  TempDir dir;
  const std::string args =
      "--config_path default-w8a8-static --dataset '" + kCalib + "' --calib_samples 3";
  auto run =
      run_slim(quant(dir.file("memory"), args + " --offload_activations no"), dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("MB of activations\n"), std::string::npos) << run.out;
  fs::create_directories(dir.file("scratch"));
  run = run_slim(quant(dir.file("disk"), args + " --offload_activations yes --offload_dir '" +
                                             dir.file("scratch") + "'"),
                 dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("(offloaded to disk)"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find(dir.file("scratch") + "/disk.activations-"), std::string::npos) << run.err;
  EXPECT_TRUE(fs::is_empty(dir.file("scratch")));  // the scratch files are gone
  const std::string weights = "/quant_model_weights-00001-of-00001.safetensors";
  EXPECT_EQ(slim::read_file(dir.file("memory") + weights),
            slim::read_file(dir.file("disk") + weights));
  // The default scratch directory sits beside the save path (a trailing separator included).
  run = run_slim(quant(dir.file("beside") + "/", args + " --offload_activations yes"),
                 dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find(dir.file("beside.activations-")), std::string::npos) << run.err;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".activations-"), std::string::npos)
        << entry.path();
  }
  EXPECT_EQ(slim::read_file(dir.file("memory") + weights),
            slim::read_file(dir.file("beside") + weights));
  // A bad mode is refused before anything is written.
  run = run_slim(quant(dir.file("bad"), args + " --offload_activations maybe"), dir.file("err"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--offload_activations: expected auto, yes or no, found 'maybe'"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(fs::exists(dir.file("bad")));
}

TEST(QuantCli, V0ConfigsRunTranslated) {
  TempDir dir;
  write(dir.file("v0.yaml"), R"(apiversion: modelslim_v0
metadata: {config_id: v0, label: {w_bit: 8, a_bit: 8}}
spec:
  calib_cfg:
    w_bit: 8
    a_bit: 8
    mm_tensor: False
    disable_names: [lm_head, model.layers.0.mlp.down_proj]
  calib_dataset: )" + kCalib + R"(
)");
  const auto run = run_slim(
      quant(dir.file("q"), "--config_path '" + dir.file("v0.yaml") + "' --calib_samples 2"),
      dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto json = description(dir.file("q"));
  EXPECT_EQ(json["model.layers.0.mlp.down_proj.weight"], "FLOAT");
  EXPECT_EQ(json["model.layers.1.mlp.down_proj.input_offset"], "W8A8");
  EXPECT_EQ(json["model.layers.0.mlp.up_proj.input_scale"], "W8A8");
}

// V0's anti_cfg becomes its V1 suppression processor: m3 AWQ searching for calib_cfg's
// weights, m6 Flex Smooth with flex_config, disable_anti_names excluded from it.
TEST(QuantCli, V0AntiOutlierConfigsTranslate) {
  TempDir dir;
  write(dir.file("m3.yaml"), R"(apiversion: modelslim_v0
spec:
  anti_cfg: {anti_method: m3, disable_anti_names: ["model.layers.1.mlp.down_proj"]}
  calib_cfg: {w_bit: 4, a_bit: 16, mm_tensor: False, group_size: 64}
)");
  const auto plan =
      run_slim(quant(dir.file("q"), "--config_path '" + dir.file("m3.yaml") + "' --dry_run"),
               dir.file("err"));
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("- type: awq\n      weight_qconfig:\n        dtype: int4\n        "
                          "scope: per_group"),
            std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("awq, linear_quant: W4A16"), std::string::npos) << plan.out;
  const size_t down = plan.out.find("model.layers.1.mlp.down_proj ");
  ASSERT_NE(down, std::string::npos);
  EXPECT_EQ(plan.out.substr(down, plan.out.find('\n', down) - down).find("awq"), std::string::npos);
  write(dir.file("m6.yaml"), R"(apiversion: modelslim_v0
spec:
  anti_cfg: {anti_method: m6, flex_config: {alpha: 0.4, beta: 0.5}}
  calib_cfg: {w_bit: 8, a_bit: 8, mm_tensor: False}
  calib_dataset: )" + kCalib + R"(
)");
  const auto run = run_slim(
      quant(dir.file("q6"), "--config_path '" + dir.file("m6.yaml") + "' --calib_samples 2"),
      dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string resolved = slim::read_file(dir.file("q6/custom_best_practice.yaml"));
  EXPECT_NE(resolved.find("type: flex_smooth_quant\n      alpha: 0.4\n      beta: 0.5"),
            std::string::npos)
      << resolved;
  EXPECT_EQ(description(dir.file("q6"))["model_quant_type"], "W8A8");
}

TEST(QuantCli, DryRunPrintsThePlanAndWritesNothing) {
  TempDir dir;
  const auto run =
      run_slim(quant(dir.file("q"), "--config_path default-w8a8 --dry_run"), dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("apiversion: modelslim_v1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("model.layers.5.mlp.down_proj"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("W8A8_DYNAMIC"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(dir.file("q")));
}

// The resolved config printed (and saved as <model_type>_best_practice.yaml) is the practice that
// runs, for every bundled practice: each was once printed with another practice's document
// (yaml-cpp's Node assignment had aliased them while the practice list was sorted).
TEST(QuantCli, TheResolvedConfigIsThePracticeThatRuns) {
  TempDir dir;
  for (const auto& file :
       fs::recursive_directory_iterator(std::string(SLIM_SOURCE_DIR) + "/practice")) {
    if (file.path().extension() != ".yaml") continue;
    const std::string id = file.path().stem().string();
    const auto run =
        run_slim(quant(dir.file("q"), "--config_path " + id + " --dry_run"), dir.file("err"));
    ASSERT_EQ(run.exit_code, 0) << id << ": " << run.err;
    EXPECT_NE(run.out.find("config_id: " + id + "\n"), std::string::npos) << id << ": " << run.out;
  }
  const auto run =
      run_slim(quant(dir.file("q"), "--model_type sotu-llama-13m --quant_type w8a8 --dry_run"),
               dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("config_id: llama-w8a8\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("type: flex_smooth_quant"), std::string::npos) << run.out;
}

struct BadInput {
  std::string what;
  std::string yaml;  // written to bad.yaml and passed as --config_path when not empty
  std::string extra;
  std::string message;
};

TEST(QuantCli, RefusesBadInputNamingIt) {
  TempDir dir;
  const std::string head = "apiversion: modelslim_v1\nspec:\n";
  const std::string act = "act: {dtype: int8, scope: per_token}, ";
  const std::vector<BadInput> cases = {
      {"no processors", head + "  process: []\n", "", "names no processors"},
      {"unknown processor", head + "  process: [{type: smooth_quantt}]\n", "",
       "unknown processor 'smooth_quantt'; processors Slim has: linear_quant, group, smooth_quant"},
      {"not implemented", head + "  process: [{type: adapt_rotation}]\n", "",
       "'adapt_rotation' (msModelSlim) is not implemented in Slim yet"},
      {"unknown key",
       head + "  process:\n    - type: linear_quant\n      qconfig: {weight: {}}\n"
              "      inclde: ['*']\n",
       "", "spec.process[0].inclde: unknown key"},
      {"bad enum",
       head + "  process:\n    - type: linear_quant\n      qconfig: {" + act +
           "weight: {dtype: int7}}\n",
       "", "spec.process[0].qconfig.weight.dtype"},
      {"bad pair",
       head + "  process:\n    - type: linear_quant\n      qconfig: {act: {dtype: int8, "
              "scope: per_token, symmetric: false}, weight: {}}\n",
       "", "spec.process[0].qconfig: activations int8 per_token asym"},
      {"unknown spec key", head + "  proces: []\n", "", "spec.proces: unknown key"},
      {"unimplemented prior stage",
       head + "  prior: [{process: [{type: adapt_rotation}]}]\n  process: [{type: "
              "linear_quant, qconfig: {weight: {}}}]\n",
       "", "'adapt_rotation' (msModelSlim) is not implemented in Slim yet"},
      {"several devices", "", "--config_path default-w8a16 --device cuda:0,1",
       "several device indexes"},
      {"groups that do not fit",
       head + "  process:\n    - type: linear_quant\n      qconfig: {weight: {dtype: int4, "
              "scope: per_group, group_size: 96}}\n",
       "",
       "spec.process[0].qconfig.weight: group_size 96 does not divide the input dim 256 of "
       "linear model.layers.0.self_attn.q_proj; choose one that does (256, 128, 64, 32, 16)"},
      {"too few samples", "",
       "--config_path default-w8a8-static --dataset '" + kCalib + "' --calib_samples 1000",
       "has 128 samples; --calib_samples asked for 1000"},
      {"missing dataset", "", "--config_path default-w8a8-static --dataset /nonexistent.jsonl",
       "/nonexistent.jsonl"},
      {"unknown model type, no tty", "", "--model_type NoSuchModel-7B --quant_type w8a16",
       "stdin is not a terminal; pass --yes"},
      {"both type and config", "", "--config_path default-w8a8 --quant_type w8a8",
       "mutually exclusive"},
      {"unsupported quant type", "", "--model_type sotu-llama-13m --quant_type w4a4",
       "--quant_type 'w4a4'"},
  };
  for (const auto& c : cases) {
    std::string extra = c.extra;
    if (!c.yaml.empty()) {
      write(dir.file("bad.yaml"), c.yaml);
      extra += " --config_path '" + dir.file("bad.yaml") + "'";
    }
    const auto run = run_slim(quant(dir.file("q"), extra) + " </dev/null", dir.file("err"));
    EXPECT_EQ(run.exit_code, 2) << c.what << ": " << run.err;
    EXPECT_NE(run.err.find(c.message), std::string::npos) << c.what << ": " << run.err;
    EXPECT_FALSE(fs::exists(dir.file("q"))) << c.what;
  }
  // A save path inside the model; a model directory without config.json.
  auto run = run_slim("quant --model_path '" + kFixture + "' --save_path '" + kFixture +
                          "/out' --config_path default-w8a16",
                      dir.file("err"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("is inside --model_path"), std::string::npos) << run.err;
  fs::create_directories(dir.file("empty"));
  run = run_slim("quant --model_path '" + dir.file("empty") + "' --save_path '" + dir.file("q") +
                     "' --config_path default-w8a16",
                 dir.file("err"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no config.json"), std::string::npos) << run.err;
  // An unknown model type with --yes: the default pedigree, as msModelSlim does.
  run = run_slim(quant(dir.file("q"), "--model_type NoSuchModel-7B --quant_type w8a16 --yes"),
                 dir.file("err"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("default pedigree"), std::string::npos) << run.err;
}

TEST(QuantCli, NaNInCalibrationIsNamed) {
  TempDir dir;
  ASSERT_EQ(run_slim("random-model --save_path '" + dir.file("m") + "' --vocab_size 32000",
                     dir.file("err"))
                .exit_code,
            0);
  // An Inf in layer 1's up_proj weight: its output overflows during the calibration forward.
  {
    const auto checkpoint = slim::io::SafetensorsCheckpoint::open(dir.file("m"));
    fs::create_directories(dir.file("m2"));
    slim::io::SafetensorsWriter writer(dir.file("m2"));
    for (const auto& name : checkpoint.names()) {
      at::Tensor tensor = checkpoint.tensor(name).clone();
      if (name == "model.layers.1.mlp.up_proj.weight") tensor.index_put_({0, 0}, INFINITY);
      writer.add(name, tensor);
    }
    writer.finish();
  }
  for (const auto& entry : fs::directory_iterator(dir.file("m"))) {
    if (entry.path().extension() != ".safetensors")
      fs::copy_file(entry.path(), fs::path(dir.file("m2")) / entry.path().filename());
  }
  const auto run = run_slim("quant --model_path '" + dir.file("m2") + "' --save_path '" +
                                dir.file("q") + "' --config_path default-w8a8-static --dataset '" +
                                kCalib + "' --calib_samples 2",
                            dir.file("err"));
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("decoder layer 1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("model.layers.1.mlp."), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("NaN or Inf"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir.file("q")));
}

TEST(QuantCli, UncalibratedExpertsAreReportedAndGetFiniteScales) {
  TempDir dir;
  ASSERT_EQ(run_slim("random-model --arch Qwen3MoeForCausalLM --save_path '" + dir.file("m") +
                         "' --vocab_size 32000 --num_experts 16 --num_experts_per_tok 1 "
                         "--layers 2",
                     dir.file("err"))
                .exit_code,
            0);
  write(dir.file("one.jsonl"), "{\"inputs_pretokenized\": \"Hi\"}\n");
  const auto run = run_slim(
      "quant --model_path '" + dir.file("m") + "' --save_path '" + dir.file("q") +
          "' --config_path qwen3-moe-w8a8-static --dataset '" + dir.file("one.jsonl") + "'",
      dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("experts received no calibration token"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("model.layers.0.mlp.experts."), std::string::npos) << run.out;
  const auto json = description(dir.file("q"));
  EXPECT_EQ(json["model.layers.0.mlp.gate.weight"], "FLOAT");  // the router stays float
  // Every stored input scale is finite and positive.
  const auto eval = run_slim("eval ppl --model_path '" + dir.file("q") + "' --dataset '" + kEval +
                                 "' --seq_len 64 --max_chunks 2 --json",
                             dir.file("err"));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_TRUE(std::isfinite(nlohmann::json::parse(eval.out)["perplexity"].get<double>()));
}

TEST(QuantCli, AnInterruptedRunLeavesNoOutput) {
  TempDir dir;
  const std::string command = std::string(SLIM_CLI_PATH) + " " +
                              quant(dir.file("q"),
                                    "--config_path default-w8a8-static "
                                    "--dataset '" +
                                        kCalib + "'") +
                              " >/dev/null 2>&1 & echo $!";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  int pid = 0;
  ASSERT_EQ(std::fscanf(pipe, "%d", &pid), 1);
  ::pclose(pipe);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ::kill(pid, SIGINT);
  for (int i = 0; i < 50 && ::kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(fs::exists(dir.file("q/quant_model_description.json")));
  EXPECT_FALSE(fs::exists(dir.file("q")));
}

}  // namespace
