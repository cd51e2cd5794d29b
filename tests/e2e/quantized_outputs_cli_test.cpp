// Every command that runs a model takes every weight source: a saved Ascend V1 directory, a
// compressed-tensors directory and a GGUF file, dense and MoE (eval ppl, eval kld against the
// float model, generate, inspect), and their errors name what is wrong.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "slim/core/files.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::run_slim;
using slim::testing::TempDir;

std::string make_text(const TempDir& dir) {
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "The quick brown fox jumps over the lazy dog. ";
  slim::write_file(dir.file("text.txt"), text);
  return dir.file("text.txt");
}

void run_ok(const TempDir& dir, const std::string& command, std::string* out = nullptr) {
  const auto result = run_slim(command, dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << command << "\n" << result.err;
  if (out) *out = result.out;
}

struct Output {
  const char* name;
  const char* convert;  // slim convert arguments
  const char* format;   // what inspect reports
  double max_kld;       // against the float model (random weights suffer more than trained ones)
  double min_top1;
};

TEST(QuantizedOutputsCli, EveryCommandRunsEveryFormat) {
  for (const char* arch : {"LlamaForCausalLM", "Qwen3MoeForCausalLM"}) {
    SCOPED_TRACE(arch);
    TempDir dir;
    const std::string text = make_text(dir);
    const std::string source = dir.file("float");
    // Peaked next-token distributions (scaled final norm): quantization must not flip them.
    run_ok(dir, std::string("random-model --vocab_size 260 --logit_scale 8 ") +
                    "--moe_intermediate_size 32 --arch " + arch + " --save_path '" + source + "'");
    const std::vector<Output> outputs = {
        {"ascend", "--format ascendv1 --scheme w8a16", "ascendv1", 0.01, 0.95},
        {"ct", "--format compressed-tensors --scheme w4a16 --group_size 32", "compressed-tensors",
         0.5, 0.5},
        {"m.gguf", "--format gguf --outtype bf16", "gguf", 0.01, 0.95},
    };
    for (const Output& output : outputs) {
      SCOPED_TRACE(output.name);
      // The MoE model through one quantized format (GGUF import reads dense architectures).
      if (std::string(arch) != "LlamaForCausalLM" && std::string(output.format) != "ascendv1")
        continue;
      const std::string path = dir.file(output.name);
      run_ok(dir, std::string("convert ") + output.convert + " --model_path '" + source +
                      "' --save_path '" + path + "'");
      std::string out;
      run_ok(dir, "inspect --json --model_path '" + path + "'", &out);
      const auto inspected = nlohmann::json::parse(out);
      EXPECT_EQ(inspected["format"], output.format);
      EXPECT_EQ(inspected["problems"].size(), 0u) << out;
      EXPECT_EQ(inspected["architecture"], arch);

      run_ok(dir,
             "eval kld --json --seq_len 64 --model_path '" + path + "' --ref_model_path '" +
                 source + "' --dataset '" + text + "'",
             &out);
      const auto kld = nlohmann::json::parse(out);
      EXPECT_GT(kld["tokens_scored"].get<int64_t>(), 0);
      EXPECT_GE(kld["mean_kld"].get<double>(), 0.0);
      EXPECT_LT(kld["mean_kld"].get<double>(), output.max_kld);
      EXPECT_GT(kld["top1_agreement"].get<double>(), output.min_top1);
      if (std::string(output.format) != "gguf") {
        EXPECT_GT(kld["mean_kld"].get<double>(), 0.0);
      }

      run_ok(dir,
             "eval ppl --json --seq_len 64 --model_path '" + path + "' --dataset '" + text + "'",
             &out);
      EXPECT_NEAR(nlohmann::json::parse(out)["perplexity"].get<double>(),
                  kld["perplexity"].get<double>(), 1e-9);

      run_ok(dir, "generate --max_new_tokens 5 --prompt 'The quick' --model_path '" + path + "'",
             &out);
      EXPECT_FALSE(out.empty());
    }
  }
}

TEST(QuantizedOutputsCli, BrokenOutputsAreNamed) {
  TempDir dir;
  const std::string text = make_text(dir);
  run_ok(dir, "random-model --vocab_size 260 --save_path '" + dir.file("float") + "'");
  run_ok(dir, "convert --format ascendv1 --scheme w8a16 --model_path '" + dir.file("float") +
                  "' --save_path '" + dir.file("a") + "'");
  std::filesystem::remove(dir.file("a") + "/quant_model_description.json");
  const auto result = run_slim(
      "eval ppl --model_path '" + dir.file("a") + "' --dataset '" + text + "'", dir.file("err"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("quant_model_description"), std::string::npos) << result.err;
}

}  // namespace
