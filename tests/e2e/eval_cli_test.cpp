// Whole-CLI runs of slim eval ppl / kld and slim generate on random models.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "slim/core/files.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::run_slim;
using slim::testing::TempDir;

std::string make_model(const TempDir& dir, const std::string& name, int seed) {
  const auto result = run_slim("random-model --vocab_size 260 --dtype fp32 --seed " +
                                   std::to_string(seed) + " --save_path '" + dir.file(name) + "'",
                               dir.file("err"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return dir.file(name);
}

std::string make_text(const TempDir& dir) {
  std::string text;
  for (int i = 0; i < 60; ++i)
    text += "The quick brown fox jumps over the lazy dog. ";
  slim::write_file(dir.file("text.txt"), text);
  return dir.file("text.txt");
}

TEST(EvalCli, PerplexityJsonAndText) {
  TempDir dir;
  const std::string model = make_model(dir, "m", 1);
  const std::string text = make_text(dir);
  auto result =
      run_slim("eval ppl --json --seq_len 64 --model_path '" + model + "' --dataset '" + text + "'",
               dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["windows"], 2700 / 64);
  EXPECT_EQ(json["tokens_scored"], (2700 / 64) * 63);
  EXPECT_GT(json["perplexity"].get<double>(), 1.0);
  // --add_bos: windows of BOS + 63 text tokens, every text token scored.
  result = run_slim(
      "eval ppl --json --add_bos --seq_len 64 --max_chunks 3 --batch_size 2 --model_path '" +
          model + "' --dataset '" + text + "'",
      dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["tokens_scored"], 3 * 63);
  result = run_slim(
      "eval ppl --seq_len 64 --max_chunks 2 --model_path '" + model + "' --dataset '" + text + "'",
      dir.file("err"));
  EXPECT_NE(result.out.find("perplexity: "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("tokens scored: 126 in 2 window(s) of 64"), std::string::npos)
      << result.out;
}

TEST(EvalCli, KlDivergenceAgainstItselfAndAnother) {
  TempDir dir;
  const std::string a = make_model(dir, "a", 1);
  const std::string b = make_model(dir, "b", 2);
  const std::string text = make_text(dir);
  auto result = run_slim("eval kld --json --seq_len 64 --max_chunks 4 --model_path '" + a +
                             "' --ref_model_path '" + a + "' --dataset '" + text + "'",
                         dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto json = nlohmann::json::parse(result.out);
  EXPECT_NEAR(json["mean_kld"].get<double>(), 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(json["top1_agreement"].get<double>(), 1.0);
  result = run_slim("eval kld --json --seq_len 64 --max_chunks 4 --model_path '" + a +
                        "' --ref_model_path '" + b + "' --dataset '" + text + "'",
                    dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json = nlohmann::json::parse(result.out);
  EXPECT_GT(json["mean_kld"].get<double>(), 1e-3);
  EXPECT_NE(json["perplexity"], json["reference_perplexity"]);
}

TEST(EvalCli, BadInputIsAClearError) {
  TempDir dir;
  const std::string model = make_model(dir, "m", 1);
  slim::write_file(dir.file("short.txt"), "tiny");
  auto result = run_slim("eval ppl --seq_len 64 --model_path '" + model + "' --dataset '" +
                             dir.file("short.txt") + "'",
                         dir.file("err"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("fewer than one window of 64"), std::string::npos) << result.err;
  result = run_slim(
      "eval ppl --seq_len 4096 --model_path '" + model + "' --dataset '" + make_text(dir) + "'",
      dir.file("err"));
  EXPECT_EQ(result.exit_code, 2);  // 2700 tokens < one window of 4096
  result = run_slim(
      "eval ppl --dtype fp8 --model_path '" + model + "' --dataset '" + make_text(dir) + "'",
      dir.file("err"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--dtype"), std::string::npos) << result.err;
  result = run_slim(
      "eval ppl --device tpu --model_path '" + model + "' --dataset '" + make_text(dir) + "'",
      dir.file("err"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--device"), std::string::npos) << result.err;
}

TEST(GenerateCli, ContinuesThePrompt) {
  TempDir dir;
  const std::string model = make_model(dir, "m", 1);
  const auto result = run_slim(
      "generate --max_new_tokens 5 --model_path '" + model + "' --prompt 'Hello'", dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("Hello", 0), 0u) << result.out;
  EXPECT_GT(result.out.size(), std::string("Hello\n").size());
}

}  // namespace
