// Slim's runtime and tokenizer against llama.cpp on the same GGUF export: llama-perplexity vs
// `slim eval ppl --llama_cpp_protocol`, llama-tokenize vs `slim tokenize`.
//
// The random models are made far from uniform (final norm scaled up), and the text is sampled
// from each model itself (printable ASCII), so their perplexity on it is low and disagreements
// in the logits would show.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>

#include "slim/core/files.h"
#include "slim/io/safetensors.h"
#include "slim/model/causal_lm.h"
#include "slim/model/random_model.h"
#include "support/assets.h"
#include "support/llama_cpp.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::run_slim;
using slim::testing::TempDir;

// Samples text from the model itself, restricted to printable ASCII bytes and newlines (the
// random models' byte-level tokenizer maps byte b to id b), in exactly the chunks that
// llama-perplexity evaluates: the token stream is BOS + text, chunk c covers tokens
// [c * seq_len, (c + 1) * seq_len) and starts with BOS, so each chunk's text is sampled from a
// fresh context holding only BOS. The model then predicts its own text well (low perplexity).
std::string sample_text(slim::model::CausalLM& model, int64_t seq_len, int64_t chunks,
                        uint64_t seed) {
  c10::NoGradGuard no_grad;
  model.keep_layers_resident();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor allowed = at::zeros({model.config().vocab_size}, at::kBool);
  allowed.narrow(0, 32, 95).fill_(true);
  allowed[10] = true;
  const int64_t bos = *model.config().bos_token_id;
  std::string text;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    // The token at the chunk's first position is replaced by BOS when evaluated.
    if (chunk > 0) text += 'x';
    slim::model::KVCache cache;
    at::Tensor input = at::tensor(std::vector<int64_t>{bos}, at::kLong).unsqueeze(0);
    for (int64_t i = 1; i < seq_len; ++i) {
      const at::Tensor logits =
          model.forward(input, &cache)[0][-1].masked_fill(allowed.logical_not(), -INFINITY);
      const int64_t next =
          at::multinomial(at::softmax(logits, -1), 1, false, generator).item<int64_t>();
      text += static_cast<char>(next);
      input = at::tensor(std::vector<int64_t>{next}, at::kLong).unsqueeze(0);
    }
  }
  return text;
}

// Copies the model, zeroing the lm_head rows of every token but printable ASCII and newline: those
// logits become 0 while the allowed ones spread widely (the final norm is scaled up), so the
// model's own next-token distribution lives on text that round-trips through any tokenizer.
void ascii_only_head(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.path().extension() == ".json")
      fs::copy_file(entry.path(), to / entry.path().filename());
  }
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(from);
  slim::io::SafetensorsWriter writer(to);
  for (const auto& name : checkpoint.names()) {
    at::Tensor tensor = checkpoint.tensor(name).clone();
    if (name == "lm_head.weight") {
      at::Tensor keep = at::zeros({tensor.size(0)}, at::kBool);
      keep.narrow(0, 32, 95).fill_(true);
      keep[10] = true;
      tensor.index_put_({keep.logical_not()}, 0.0);
    }
    writer.add(name, tensor);
  }
  writer.finish();
}

struct Command {
  int exit_code;
  std::string output;
};

Command run(const std::string& command) {
  Command result{-1, ""};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// llama-perplexity's final estimate over `chunks` chunks of 256 (llama.cpp's protocol).
// llama-perplexity logs through an asynchronous logger that may lose its last lines at exit (a
// known llama.cpp issue: the logger is deliberately never destroyed), so a run whose output lacks
// the final estimate is repeated, at most eight times (under a loaded machine three were seen to
// lose it every time). Fails the test and returns nullopt when
// there is none.
std::optional<double> llama_perplexity(const std::string& bin, const std::string& gguf,
                                       const std::string& text, int chunks) {
  Command reference{-1, ""};
  std::smatch match;
  for (int attempt = 0; attempt < 8; ++attempt) {
    reference = run(bin + "/llama-perplexity -m '" + gguf + "' -f '" + text +
                    "' -c 256 -b 256 --chunks " + std::to_string(chunks) + " -t 2");
    EXPECT_EQ(reference.exit_code, 0) << reference.output;
    if (reference.exit_code != 0) return std::nullopt;
    if (std::regex_search(reference.output, match,
                          std::regex(R"(Final estimate: PPL = ([0-9.]+))"))) {
      return std::stod(match[1]);
    }
  }
  ADD_FAILURE() << "no final estimate in llama-perplexity's output:\n" << reference.output;
  return std::nullopt;
}

class LlamaCppConformance : public ::testing::TestWithParam<const char*> {};

TEST_P(LlamaCppConformance, PerplexityAndTokensAgree) {
  SLIM_LLAMA_CPP_OR_SKIP(bin);
  TempDir dir;
  slim::model::RandomModelOptions options;
  options.architecture = GetParam();
  options.vocab_size = 260;  // 256 bytes + BOS + EOS (+2 unused)
  options.hidden_size = 64;
  options.intermediate_size = 160;
  options.num_hidden_layers = 2;
  options.num_attention_heads = 4;
  options.num_key_value_heads = 2;
  options.dtype = at::kFloat;
  options.logit_scale = 12.0;
  options.seed = 17;
  options.num_experts = 4;
  options.num_experts_per_tok = 2;
  options.moe_intermediate_size = 64;
  options.shared_expert_intermediate_size = 96;
  // llama.cpp's qwen2moe never renormalises the top-k routing weights; qwen3moe and llama always.
  options.norm_topk_prob = std::string(GetParam()) != "Qwen2MoeForCausalLM";
  const std::string model_dir = dir.file("model");
  slim::model::write_random_model(options, dir.file("raw"));
  ascii_only_head(dir.file("raw"), model_dir);
  auto model = slim::model::CausalLM::open(model_dir);
  slim::write_file(dir.file("text.txt"), sample_text(*model, 256, 8, 5));

  const std::string gguf = dir.file("model.gguf");
  auto converted = run_slim("convert --format gguf --outtype f32 --model_path '" + model_dir +
                                "' --save_path '" + gguf + "'",
                            dir.file("err"));
  ASSERT_EQ(converted.exit_code, 0) << converted.err;

  // Perplexity: llama.cpp's protocol on both sides, 8 chunks of 256.
  const auto llama_perplexity_value = llama_perplexity(bin, gguf, dir.file("text.txt"), 8);
  ASSERT_TRUE(llama_perplexity_value.has_value());
  const double llama_ppl = *llama_perplexity_value;
  const auto ours = run_slim(
      "eval ppl --json --llama_cpp_protocol --seq_len 256 --max_chunks 8 "
      "--model_path '" +
          model_dir + "' --dataset '" + dir.file("text.txt") + "'",
      dir.file("err"));
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  const double slim_ppl = nlohmann::json::parse(ours.out)["perplexity"].get<double>();
  std::printf("%s: perplexity slim %.6f, llama.cpp %.6f (relative difference %.2e)\n", GetParam(),
              slim_ppl, llama_ppl, std::abs(slim_ppl - llama_ppl) / llama_ppl);
  EXPECT_LT(slim_ppl, 0.05 * options.vocab_size) << "the model must be far from uniform";
  EXPECT_LT(std::abs(slim_ppl - llama_ppl) / llama_ppl, 1e-3)
      << "slim " << slim_ppl << " vs llama.cpp " << llama_ppl;

  // Tokenization of the same text.
  const Command tokens = run(bin + "/llama-tokenize -m '" + gguf + "' -f '" + dir.file("text.txt") +
                             "' --ids --log-disable --no-bos --no-escape");
  ASSERT_EQ(tokens.exit_code, 0) << tokens.output;
  const auto ids = run_slim("tokenize --ids --no_special_tokens --model_path '" + model_dir +
                                "' --file '" + dir.file("text.txt") + "'",
                            dir.file("err"));
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  // llama-tokenize --ids prints a Python-style list: [1, 2, 3]
  std::string expected = tokens.output.substr(tokens.output.find('['));
  expected = std::regex_replace(expected, std::regex(R"([\[\],\s]+)"), " ");
  std::string actual = std::regex_replace(ids.out, std::regex(R"(\s+)"), " ");
  auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(' '));
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  EXPECT_EQ(trim(actual), trim(expected));
}

INSTANTIATE_TEST_SUITE_P(Families, LlamaCppConformance,
                         ::testing::Values("LlamaForCausalLM", "MistralForCausalLM",
                                           "Qwen2ForCausalLM", "Qwen3ForCausalLM",
                                           "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM",
                                           "MixtralForCausalLM"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace

namespace {

// Real tokenizers: a tiny random model carrying the real tokenizer.json, exported to GGUF, then
// llama-tokenize (which loads only the vocabulary) against `slim tokenize` on a few thousand lines
// of State of the Union text, tokenized as one document.
struct RealTokenizer {
  const char* name;
  const char* asset;
  int64_t vocab_size;
};

class LlamaCppTokenizerConformance : public ::testing::TestWithParam<RealTokenizer> {};

TEST_P(LlamaCppTokenizerConformance, SameIdsOnRealText) {
  SLIM_LLAMA_CPP_OR_SKIP(bin);
  const RealTokenizer& real = GetParam();
  SLIM_ASSET_OR_SKIP(tokenizer_dir, real.asset);
  SLIM_ASSET_OR_SKIP(text_dir, "sotu/package/data");
  TempDir dir;
  slim::model::RandomModelOptions options;
  options.vocab_size = real.vocab_size;
  options.hidden_size = 32;
  options.intermediate_size = 64;
  options.num_hidden_layers = 1;
  options.num_attention_heads = 2;
  options.num_key_value_heads = 1;
  options.tie_word_embeddings = true;
  const std::string model_dir = dir.file("model");
  slim::model::write_random_model(options, model_dir);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    std::filesystem::copy_file(tokenizer_dir + "/" + file, model_dir + "/" + file,
                               std::filesystem::copy_options::overwrite_existing);
  }
  // A few thousand lines: every 16th address (1790-2021), split into sentences, one per line.
  std::vector<std::string> addresses;
  for (const auto& entry : std::filesystem::directory_iterator(text_dir)) {
    if (entry.path().extension() == ".txt") addresses.push_back(entry.path().string());
  }
  std::sort(addresses.begin(), addresses.end());
  std::string text;
  for (size_t i = 0; i < addresses.size(); i += 16) {
    text += std::regex_replace(slim::read_file(addresses[i]), std::regex(R"(([.?!]) +)"), "$1\n") +
            "\n";
  }
  slim::write_file(dir.file("text.txt"), text);
  const std::string gguf = dir.file("model.gguf");
  const auto converted = run_slim("convert --format gguf --outtype f16 --model_path '" + model_dir +
                                      "' --save_path '" + gguf + "'",
                                  dir.file("err"));
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  const Command tokens = run(bin + "/llama-tokenize -m '" + gguf + "' -f '" + dir.file("text.txt") +
                             "' --ids --log-disable --no-bos --no-escape");
  ASSERT_EQ(tokens.exit_code, 0) << tokens.output.substr(0, 2000);
  const auto ids = run_slim("tokenize --ids --no_special_tokens --model_path '" + model_dir +
                                "' --file '" + dir.file("text.txt") + "'",
                            dir.file("err"));
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  std::string expected = tokens.output.substr(tokens.output.find('['));
  expected = std::regex_replace(expected, std::regex(R"([\[\],\s]+)"), " ");
  const std::string actual = std::regex_replace(ids.out, std::regex(R"(\s+)"), " ");
  auto words = [](const std::string& s) {
    std::vector<std::string> out;
    std::istringstream stream(s);
    for (std::string w; stream >> w;)
      out.push_back(w);
    return out;
  };
  const auto want = words(expected);
  const auto got = words(actual);
  EXPECT_GT(std::count(text.begin(), text.end(), '\n'), 3000);
  EXPECT_GT(got.size(), 50000u);
  size_t first_difference = 0;
  while (first_difference < want.size() && first_difference < got.size() &&
         want[first_difference] == got[first_difference]) {
    ++first_difference;
  }
  EXPECT_TRUE(want == got) << real.name << ": " << got.size() << " ids from slim, " << want.size()
                           << " from llama.cpp; first difference at id " << first_difference;
}

INSTANTIATE_TEST_SUITE_P(
    Tokenizers, LlamaCppTokenizerConformance,
    ::testing::Values(RealTokenizer{"Qwen3", "tokenizer-qwen3/package/models", 151936},
                      RealTokenizer{"Llama3", "tokenizer-llama3/package/models", 128256},
                      RealTokenizer{"Mistral", "tokenizer-mistral/package/models", 32000}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace

namespace {

// The trained fixtures (models/), exported to GGUF: llama-perplexity and `slim eval ppl` with
// llama.cpp's protocol on the held-out text. Learned weights and real text, unlike the random
// models above.
class LlamaCppFixtureConformance : public ::testing::TestWithParam<const char*> {};

TEST_P(LlamaCppFixtureConformance, HeldOutPerplexityAgrees) {
  SLIM_LLAMA_CPP_OR_SKIP(bin);
  TempDir dir;
  const std::string model_dir = std::string(SLIM_SOURCE_DIR) + "/models/" + GetParam();
  const std::string text = std::string(SLIM_SOURCE_DIR) + "/data/eval/sotu_2001_2021.txt";
  const std::string gguf = dir.file("model.gguf");
  // f32: the bf16 weights widen exactly, and both sides then compute in fp32.
  const auto converted = run_slim("convert --format gguf --outtype f32 --model_path '" + model_dir +
                                      "' --save_path '" + gguf + "'",
                                  dir.file("err"));
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  const auto llama_perplexity_value = llama_perplexity(bin, gguf, text, 8);
  ASSERT_TRUE(llama_perplexity_value.has_value());
  const double llama_ppl = *llama_perplexity_value;
  const auto ours =
      run_slim("eval ppl --json --llama_cpp_protocol --seq_len 256 --max_chunks 8 --model_path '" +
                   model_dir + "' --dataset '" + text + "'",
               dir.file("err"));
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  const double slim_ppl = nlohmann::json::parse(ours.out)["perplexity"].get<double>();
  std::printf("%s: held-out perplexity slim %.6f, llama.cpp %.6f (relative difference %.2e)\n",
              GetParam(), slim_ppl, llama_ppl, std::abs(slim_ppl - llama_ppl) / llama_ppl);
  EXPECT_LT(slim_ppl, 1000.0) << "a trained model, far from uniform over 32000 tokens";
  EXPECT_LT(std::abs(slim_ppl - llama_ppl) / llama_ppl, 1e-3)
      << "slim " << slim_ppl << " vs llama.cpp " << llama_ppl;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlamaCppFixtureConformance,
                         ::testing::Values("sotu-llama-13m", "sotu-qwen3-13m"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
