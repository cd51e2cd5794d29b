// Whole-CLI runs of `slim random-model` and `slim inspect`.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "slim/core/files.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::run_slim;
using slim::testing::TempDir;
namespace fs = std::filesystem;

std::string make_model(const TempDir& dir, const std::string& arch, const std::string& extra = "") {
  const std::string path = dir.file("model");
  const auto result = run_slim(
      "random-model --arch " + arch + " --shard_size 20KB --save_path '" + path + "' " + extra,
      dir.file("err.txt"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return path;
}

TEST(InspectCli, ShardedModelWrittenBySlimHasNoProblems) {
  for (const char* arch :
       {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
    SCOPED_TRACE(arch);
    TempDir dir;
    const std::string path = make_model(dir, arch);
    EXPECT_TRUE(fs::exists(path + "/model.safetensors.index.json"));
    const auto result = run_slim("inspect --json --model_path '" + path + "'", dir.file("e"));
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const auto report = nlohmann::json::parse(result.out);
    EXPECT_EQ(report["architecture"], arch);
    EXPECT_GT(report["checkpoint_files"].size(), 2u);
    EXPECT_EQ(report["index_file"], "model.safetensors.index.json");
    EXPECT_TRUE(report["problems"].empty());
    // Default geometry: vocab 256, hidden 64, inter 128, 2 layers, 4 heads (dim 16), 2 kv heads.
    int64_t per_layer = 64 * 2 + 64 * 64 * 2 + 32 * 64 * 2 + 3 * 64 * 128;
    if (std::string(arch) == "Qwen2ForCausalLM") per_layer += 64 + 32 + 32;  // q/k/v bias
    if (std::string(arch) == "Qwen3ForCausalLM") per_layer += 16 * 2;        // q_norm, k_norm
    EXPECT_EQ(report["parameter_count"].get<int64_t>(), 2 * 256 * 64 + 64 + 2 * per_layer);
    EXPECT_EQ(report["total_bytes"].get<int64_t>(), 2 * report["parameter_count"].get<int64_t>());
    EXPECT_EQ(report["dtypes"]["BF16"]["tensors"], report["tensor_count"]);
  }
}

TEST(InspectCli, TextReportGroupsLayers) {
  TempDir dir;
  const std::string path = make_model(dir, "LlamaForCausalLM", "--tie_word_embeddings");
  const auto result = run_slim("inspect --model_path '" + path + "'", dir.file("e"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("architecture: LlamaForCausalLM"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("model.layers.*.self_attn.q_proj.weight"), std::string::npos);
  EXPECT_NE(result.out.find("tied embeddings"), std::string::npos);
  EXPECT_EQ(result.out.find("lm_head"), std::string::npos);
  EXPECT_NE(result.out.find("problems:     none"), std::string::npos);
}

TEST(InspectCli, ReportsMissingTensorAndShapeDisagreement) {
  TempDir dir;
  const std::string path = make_model(dir, "LlamaForCausalLM");
  // Claim a larger intermediate size and one more layer than the weights have.
  auto config = nlohmann::json::parse(slim::read_file(path + "/config.json"));
  config["intermediate_size"] = 192;
  config["num_hidden_layers"] = 3;
  slim::write_file(path + "/config.json", config.dump());
  const auto result = run_slim("inspect --json --model_path '" + path + "'", dir.file("e"));
  EXPECT_EQ(result.exit_code, 1);
  const auto report = nlohmann::json::parse(result.out);
  const std::string problems = report["problems"].dump();
  EXPECT_NE(problems.find("missing tensor model.layers.2.mlp.up_proj.weight"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("model.layers.0.mlp.gate_proj.weight: shape [128, 64] disagrees"),
            std::string::npos)
      << problems;
}

TEST(InspectCli, UnknownArchitectureIsAProblemButTensorsAreListed) {
  TempDir dir;
  const std::string path = make_model(dir, "LlamaForCausalLM");
  auto config = nlohmann::json::parse(slim::read_file(path + "/config.json"));
  config["architectures"] = {"GPTNeoXForCausalLM"};
  slim::write_file(path + "/config.json", config.dump());
  const auto result = run_slim("inspect --json --model_path '" + path + "'", dir.file("e"));
  EXPECT_EQ(result.exit_code, 1);
  const auto report = nlohmann::json::parse(result.out);
  const std::string problems = report["problems"].dump();
  EXPECT_NE(problems.find("GPTNeoXForCausalLM"), std::string::npos);
  EXPECT_NE(problems.find("Qwen3ForCausalLM"), std::string::npos) << "lists supported ones";
  EXPECT_GT(report["tensor_count"].get<int>(), 0);
}

TEST(InspectCli, UnreadableInputIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::string path = make_model(dir, "LlamaForCausalLM");
  // Truncate a shard: its header now claims data beyond the end.
  const auto index = nlohmann::json::parse(slim::read_file(path + "/model.safetensors.index.json"));
  const std::string shard =
      path + "/" + index["weight_map"]["model.norm.weight"].get<std::string>();
  const std::string bytes = slim::read_file(shard);
  slim::write_file(shard, bytes.substr(0, bytes.size() - 10));
  const auto result = run_slim("inspect --model_path '" + path + "'", dir.file("e"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(shard), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("error"), std::string::npos);
  EXPECT_TRUE(result.out.empty());
}

TEST(RandomModelCli, RefusesNonEmptyOutputAndLeavesNoTemporaries) {
  TempDir dir;
  const std::string path = make_model(dir, "LlamaForCausalLM");
  auto result = run_slim("random-model --save_path '" + path + "'", dir.file("e"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--overwrite"), std::string::npos) << result.err;
  result = run_slim("random-model --save_path '" + path + "' --overwrite --hidden_size 32",
                    dir.file("e"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
  // Invalid geometry fails before anything is written.
  result = run_slim("random-model --save_path '" + dir.file("bad") +
                        "' --num_attention_heads 3 --num_key_value_heads 2",
                    dir.file("e"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("num_key_value_heads"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir.file("bad")));
}

TEST(Cli, LogLevelFromFlagAndEnvironment) {
  TempDir dir;
  auto result = run_slim("--log-level nonsense inspect --model_path /", dir.file("e"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown log level 'nonsense'"), std::string::npos) << result.err;
  const std::string path = make_model(dir, "LlamaForCausalLM");
  // warn hides the info line random-model prints.
  result = run_slim("--log-level warn random-model --overwrite --save_path '" + path + "'",
                    dir.file("e"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.err.find("wrote random"), std::string::npos) << result.err;
  result = run_slim("random-model --overwrite --save_path '" + path + "'", dir.file("e"));
  EXPECT_NE(result.err.find("wrote random"), std::string::npos) << result.err;
}

TEST(Cli, MissingSubcommandOrArgumentIsAUsageError) {
  TempDir dir;
  EXPECT_EQ(run_slim("", dir.file("e")).exit_code, 2);
  const auto result = run_slim("inspect", dir.file("e"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("model_path"), std::string::npos) << result.err;
}

}  // namespace
