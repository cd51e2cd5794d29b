#include "slim/eval/evaluate.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "slim/core/files.h"
#include "slim/eval/generate.h"
#include "slim/model/random_model.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::TempDir;

std::string random_model(const TempDir& dir, const std::string& name, uint64_t seed) {
  slim::model::RandomModelOptions options;
  options.vocab_size = 260;
  options.seed = seed;
  options.dtype = at::kFloat;
  slim::model::write_random_model(options, dir.file(name));
  return dir.file(name);
}

std::vector<int64_t> counting_tokens(int64_t n) {
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < n; ++i)
    tokens.push_back((i * 7 + 3) % 256);
  return tokens;
}

TEST(Windows, NonOverlappingWindowsWithAndWithoutBos) {
  const auto tokens = counting_tokens(10);
  slim::eval::WindowOptions options;
  options.seq_len = 4;
  auto windows = slim::eval::make_windows(tokens, options, std::nullopt);
  ASSERT_EQ(windows.size(), 2u);  // 10 tokens: two full windows, the rest dropped
  EXPECT_EQ(windows[1], (std::vector<int64_t>{tokens[4], tokens[5], tokens[6], tokens[7]}));
  options.add_bos = true;
  windows = slim::eval::make_windows(tokens, options, 999);
  ASSERT_EQ(windows.size(), 3u);  // 3 text tokens per window
  EXPECT_EQ(windows[2], (std::vector<int64_t>{999, tokens[6], tokens[7], tokens[8]}));
  options.max_chunks = 1;
  EXPECT_EQ(slim::eval::make_windows(tokens, options, 999).size(), 1u);
}

TEST(Windows, Errors) {
  slim::eval::WindowOptions options;
  options.seq_len = 64;
  EXPECT_ERROR_WITH(slim::eval::make_windows(counting_tokens(10), options, std::nullopt),
                    "10 tokens", "fewer than one window of 64");
  options.seq_len = 4;
  options.add_bos = true;
  EXPECT_ERROR_WITH(slim::eval::make_windows(counting_tokens(10), options, std::nullopt), "BOS");
}

TEST(Windows, LlamaCppChunksStartWithBosAndNeedTwoWindows) {
  const auto tokens = counting_tokens(21);
  slim::eval::WindowOptions options;
  options.seq_len = 8;
  options.llama_cpp_protocol = true;
  EXPECT_EQ(slim::eval::first_scored_position(options), 4);
  const auto chunks = slim::eval::make_llama_cpp_chunks(tokens, options, 999);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1], (std::vector<int64_t>{999, tokens[9], tokens[10], tokens[11], tokens[12],
                                             tokens[13], tokens[14], tokens[15]}));
  EXPECT_EQ(slim::eval::make_llama_cpp_chunks(tokens, options, std::nullopt)[1][0], tokens[8]);
  EXPECT_ERROR_WITH(slim::eval::make_llama_cpp_chunks(counting_tokens(15), options, 999),
                    "15 tokens", "at least 16");
}

TEST(Perplexity, SecondHalfScoringMatchesTheLogits) {
  TempDir dir;
  const auto model = slim::model::CausalLM::open(random_model(dir, "m", 4));
  std::vector<std::vector<int64_t>> windows = {counting_tokens(16)};
  const at::Tensor lp =
      at::log_softmax(model->forward(at::tensor(windows[0]).unsqueeze(0))[0].to(at::kDouble), -1);
  double nll = 0;
  for (int t = 8; t < 15; ++t)
    nll -= lp[t][windows[0][t + 1]].item<double>();
  const auto result = slim::eval::perplexity(*model, windows, 1, /*first_scored=*/8);
  EXPECT_EQ(result.tokens_scored, 7);
  EXPECT_NEAR(result.mean_nll, nll / 7, 1e-5);
}

TEST(Perplexity, EqualsTheMeanNllOfTheModelsLogits) {
  TempDir dir;
  const auto model = slim::model::CausalLM::open(random_model(dir, "m", 1));
  slim::eval::WindowOptions options;
  options.seq_len = 16;
  const auto windows = slim::eval::make_windows(counting_tokens(50), options, std::nullopt);
  double nll = 0;
  int64_t count = 0;
  for (const auto& window : windows) {
    const at::Tensor logits = model->forward(at::tensor(window).unsqueeze(0))[0].to(at::kDouble);
    const at::Tensor lp = at::log_softmax(logits, -1);
    for (size_t t = 0; t + 1 < window.size(); ++t, ++count)
      nll -= lp[t][window[t + 1]].item<double>();
  }
  const auto result = slim::eval::perplexity(*model, windows, /*batch_size=*/2);
  EXPECT_EQ(result.tokens_scored, count);
  EXPECT_EQ(result.windows, 3);
  EXPECT_NEAR(result.mean_nll, nll / count, 1e-5);
  EXPECT_NEAR(result.perplexity, std::exp(nll / count), 1e-3 * result.perplexity);
}

TEST(KlDivergence, ZeroAgainstItselfPositiveAgainstAnotherModel) {
  TempDir dir;
  const auto a = slim::model::CausalLM::open(random_model(dir, "a", 1));
  const auto b = slim::model::CausalLM::open(random_model(dir, "b", 2));
  slim::eval::WindowOptions options;
  options.seq_len = 16;
  const auto windows = slim::eval::make_windows(counting_tokens(64), options, std::nullopt);
  const auto same = slim::eval::kl_divergence(*a, *a, windows);
  EXPECT_NEAR(same.mean_kld, 0.0, 1e-7);
  EXPECT_DOUBLE_EQ(same.top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(same.perplexity, same.reference_perplexity);
  EXPECT_NEAR(same.perplexity, slim::eval::perplexity(*a, windows).perplexity,
              1e-6 * same.perplexity);
  const auto other = slim::eval::kl_divergence(*a, *b, windows);
  EXPECT_GT(other.mean_kld, 1e-3);
  EXPECT_LT(other.top1_agreement, 1.0);
  EXPECT_NEAR(other.reference_perplexity, slim::eval::perplexity(*b, windows).perplexity,
              1e-6 * other.reference_perplexity);
}

TEST(Generate, GreedyTokensMatchArgmaxOfFullRecomputation) {
  TempDir dir;
  const auto model = slim::model::CausalLM::open(random_model(dir, "m", 3));
  std::vector<int64_t> sequence = {256, 72, 105};
  slim::eval::GenerateOptions options;
  options.max_new_tokens = 6;
  const auto produced = slim::eval::generate_greedy(*model, sequence, options);
  ASSERT_EQ(produced.size(), 6u);
  for (int64_t token : produced) {
    const at::Tensor logits = model->forward(at::tensor(sequence).unsqueeze(0));
    EXPECT_EQ(logits[0][-1].argmax().item<int64_t>(), token);
    sequence.push_back(token);
  }
}

TEST(EvalBadInput, EmptyDatasetIsAnErrorNotNan) {
  TempDir dir;
  const std::string model = random_model(dir, "m", 1);
  slim::write_file(dir.file("empty.txt"), "\n\n");
  EXPECT_ERROR_WITH(slim::eval::tokenize_dataset(model, dir.file("empty.txt")), "empty.txt",
                    "no text samples");
}

}  // namespace
