// The committed fixture models (models/, trained by `slim train`): they load, their held-out
// perplexity on the first windows is the recorded one, and they continue a sentence in English.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <set>
#include <sstream>

#include "slim/core/files.h"
#include "slim/eval/evaluate.h"
#include "slim/eval/generate.h"
#include "slim/io/safetensors.h"
#include "slim/io/tokenizer/tokenizer.h"
#include "slim/model/causal_lm.h"
#include "slim_test_paths.h"

namespace {

struct Fixture {
  const char* name;
  const char* architecture;
  // `slim eval ppl --seq_len 256 --max_chunks 4` on data/eval/sotu_2001_2021.txt, recorded when
  // the fixture was committed (CPU, fp32).
  double first_windows_ppl;
};

void PrintTo(const Fixture& fixture, std::ostream* os) {
  *os << fixture.name;
}

class FixtureModel : public ::testing::TestWithParam<Fixture> {
 protected:
  std::string dir() const { return std::string(SLIM_SOURCE_DIR) + "/models/" + GetParam().name; }
};

TEST_P(FixtureModel, HasTheDocumentedShape) {
  const auto config = nlohmann::json::parse(slim::read_file(dir() + "/config.json"));
  EXPECT_EQ(config["architectures"][0], GetParam().architecture);
  EXPECT_EQ(config["hidden_size"], 256);
  EXPECT_EQ(config["num_hidden_layers"], 6);
  EXPECT_EQ(config["num_attention_heads"], 8);
  EXPECT_EQ(config["num_key_value_heads"], 4);
  EXPECT_EQ(config["intermediate_size"], 768);
  EXPECT_EQ(config["vocab_size"], 32000);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(dir());
  EXPECT_FALSE(checkpoint.contains("lm_head.weight"));
  for (const auto& name : checkpoint.names()) {
    EXPECT_EQ(checkpoint.info(name).dtype, slim::io::Dtype::BF16) << name;
  }
  const bool qwen3 = std::string(GetParam().architecture) == "Qwen3ForCausalLM";
  EXPECT_EQ(checkpoint.contains("model.layers.0.self_attn.q_norm.weight"), qwen3);
  for (const char* file : {"generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "trainer_state.json", "README.md"}) {
    EXPECT_TRUE(std::filesystem::exists(dir() + "/" + file)) << file;
  }
}

TEST_P(FixtureModel, HeldOutPerplexityIsTheRecordedOne) {
  const auto model = slim::model::CausalLM::open(dir());
  const auto held_out = slim::eval::tokenize_dataset(
      dir(), std::string(SLIM_SOURCE_DIR) + "/data/eval/sotu_2001_2021.txt");
  slim::eval::WindowOptions windows;
  windows.seq_len = 256;
  windows.max_chunks = 4;
  const auto result = slim::eval::perplexity(*model, slim::eval::windows_for(held_out, windows), 4);
  EXPECT_EQ(result.tokens_scored, 4 * 255);
  EXPECT_NEAR(result.perplexity, GetParam().first_windows_ppl, 1e-4 * GetParam().first_windows_ppl);
}

// Greedy continuation: mostly real English words (from a list of the commonest), not byte soup.
TEST_P(FixtureModel, ContinuesASentenceInEnglish) {
  const auto model = slim::model::CausalLM::open(dir());
  const auto tokenizer = slim::io::load_tokenizer(dir());
  const std::string prompt = "The state of the Union is";
  const auto prompt_ids = tokenizer->encode(prompt, true);
  slim::eval::GenerateOptions options;
  options.max_new_tokens = 30;
  std::vector<slim::io::TokenId> all(prompt_ids.begin(), prompt_ids.end());
  slim::eval::generate_greedy(*model, std::vector<int64_t>(prompt_ids.begin(), prompt_ids.end()),
                              options, [&](int64_t id) { all.push_back(id); });
  const std::string text = tokenizer->decode(all, true);
  ASSERT_EQ(text.rfind(prompt, 0), 0u) << text;
  std::istringstream words(text.substr(prompt.size()));
  const std::set<std::string> common = {"the",  "of",  "and",   "to",   "a",   "in", "is",   "that",
                                        "be",   "for", "our",   "we",   "it",  "by", "as",   "with",
                                        "this", "are", "which", "have", "has", "on", "will", "not"};
  int total = 0, alphabetic = 0, function_words = 0;
  for (std::string word; words >> word;) {
    while (!word.empty() && std::ispunct(static_cast<unsigned char>(word.back())))
      word.pop_back();
    if (word.empty()) continue;
    ++total;
    bool letters = true;
    for (char c : word)
      letters = letters && std::isalpha(static_cast<unsigned char>(c)) != 0;
    alphabetic += letters;
    std::string lower = word;
    for (char& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    function_words += common.count(lower) != 0;
  }
  std::printf("%s: %s\n", GetParam().name, text.c_str());
  EXPECT_GE(total, 10) << text;
  EXPECT_GE(alphabetic, total * 3 / 4) << text;
  EXPECT_GE(function_words, total / 5) << text;
}

INSTANTIATE_TEST_SUITE_P(Committed, FixtureModel,
                         ::testing::Values(Fixture{"sotu-llama-13m", "LlamaForCausalLM", 79.501633},
                                           Fixture{"sotu-qwen3-13m", "Qwen3ForCausalLM",
                                                   80.097753}),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
