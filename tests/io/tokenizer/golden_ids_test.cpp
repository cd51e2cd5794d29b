// Golden ids: Slim's tokenizer.json tokenizers against llama.cpp's tokenizer test vectors
// (models/ggml-vocab-<name>.gguf.inp/.out, produced with Hugging Face's tokenizer of the same
// model, add_special_tokens=False). Assets: scripts/fetch-assets.sh.
//   qwen2     <- Qwen3's tokenizer.json (same byte-level BPE vocabulary and merges as Qwen2)
//   llama-bpe <- Llama 3's tokenizer.json
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "slim/io/tokenizer/tokenizer.h"
#include "support/assets.h"
#include "support/expect_error.h"
#include "support/llama_vocab_tests.h"
#include "support/temp_dir.h"

namespace {

using slim::io::TokenId;
using slim::testing::read_llama_vocab_tests;
using slim::testing::TempDir;
using slim::testing::VocabTestCase;

std::string printable(const std::string& text) {
  std::string out = "\"";
  for (const unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);  // UTF-8 passes through
    }
  }
  return out + "\"";
}

std::string join(const std::vector<TokenId>& ids) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < ids.size(); ++i)
    out << (i ? " " : "") << ids[i];
  out << "] (" << ids.size() << " ids)";
  return out.str();
}

// Encodes every case without special tokens and expects llama.cpp's ids, one failure per case.
void expect_golden_ids(const std::string& tokenizer_path, const std::string& inp_path,
                       const std::string& out_path) {
  const std::vector<VocabTestCase> cases = read_llama_vocab_tests(inp_path, out_path);
  ASSERT_GT(cases.size(), 30u) << inp_path;
  const auto tokenizer = slim::io::load_tokenizer(tokenizer_path);
  ASSERT_NE(tokenizer, nullptr);
  size_t mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<TokenId> ids = tokenizer->encode(cases[i].text, /*add_special_tokens=*/false);
    if (ids != cases[i].ids) {
      ++mismatches;
      ADD_FAILURE() << "input " << i << " of " << inp_path << ": " << printable(cases[i].text)
                    << "\n  expected " << join(cases[i].ids) << "\n  slim     " << join(ids);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << cases.size() << " inputs in " << inp_path;
}

TEST(TokenizerGolden, Qwen2VectorsWithQwen3TokenizerJson) {
  SLIM_ASSET_OR_SKIP(tokenizer, "tokenizer-qwen3/package/models/tokenizer.json");
  SLIM_ASSET_OR_SKIP(inp, "llama.cpp/models/ggml-vocab-qwen2.gguf.inp");
  SLIM_ASSET_OR_SKIP(out, "llama.cpp/models/ggml-vocab-qwen2.gguf.out");
  expect_golden_ids(tokenizer, inp, out);  // the file itself
}

TEST(TokenizerGolden, LlamaBpeVectorsWithLlama3TokenizerJson) {
  SLIM_ASSET_OR_SKIP(tokenizer, "tokenizer-llama3/package/models/tokenizer.json");
  SLIM_ASSET_OR_SKIP(inp, "llama.cpp/models/ggml-vocab-llama-bpe.gguf.inp");
  SLIM_ASSET_OR_SKIP(out, "llama.cpp/models/ggml-vocab-llama-bpe.gguf.out");
  // Its directory (with tokenizer_config.json beside it).
  expect_golden_ids(std::filesystem::path(tokenizer).parent_path().string(), inp, out);
}

// ---------------------------------------------------------------- the test-vector reader

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

TEST(LlamaVocabTests, SplitsOnSeparatorKeepingEmptyAndNewlineInputs) {
  TempDir dir;
  write_file(dir.file("v.inp"),
             "Hello\n__ggml_vocab_test__\n\n__ggml_vocab_test__\n\n\n__ggml_vocab_test__\n"
             " a\nb \n__ggml_vocab_test__\n");
  write_file(dir.file("v.out"), " 9906\n\n 198\n 264 198 65 220\n");
  const auto cases = read_llama_vocab_tests(dir.file("v.inp"), dir.file("v.out"));
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_EQ(cases[0].text, "Hello");
  EXPECT_EQ(cases[0].ids, (std::vector<int32_t>{9906}));
  EXPECT_EQ(cases[1].text, "");
  EXPECT_TRUE(cases[1].ids.empty());
  EXPECT_EQ(cases[2].text, "\n");
  EXPECT_EQ(cases[2].ids, (std::vector<int32_t>{198}));
  EXPECT_EQ(cases[3].text, " a\nb ");
  EXPECT_EQ(cases[3].ids, (std::vector<int32_t>{264, 198, 65, 220}));
}

TEST(LlamaVocabTests, LastInputWithoutSeparator) {
  TempDir dir;
  write_file(dir.file("v.inp"), "a\n__ggml_vocab_test__\nb\n");
  write_file(dir.file("v.out"), " 1\n 2\n");
  const auto cases = read_llama_vocab_tests(dir.file("v.inp"), dir.file("v.out"));
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[1].text, "b\n");
}

TEST(LlamaVocabTests, CountMismatchNamesBothFiles) {
  TempDir dir;
  write_file(dir.file("v.inp"), "a\n__ggml_vocab_test__\nb\n__ggml_vocab_test__\n");
  write_file(dir.file("v.out"), " 1\n");
  EXPECT_ERROR_WITH(read_llama_vocab_tests(dir.file("v.inp"), dir.file("v.out")),
                    "v.out has 1 lines", "v.inp has 2 inputs");
}

TEST(LlamaVocabTests, BadIdNamesLine) {
  TempDir dir;
  write_file(dir.file("v.inp"), "a\n__ggml_vocab_test__\nb\n__ggml_vocab_test__\n");
  write_file(dir.file("v.out"), " 1\n 2 x3\n");
  EXPECT_ERROR_WITH(read_llama_vocab_tests(dir.file("v.inp"), dir.file("v.out")), "v.out:2",
                    "expected a token id", "'x3'");
}

TEST(LlamaVocabTests, MissingFileNamed) {
  TempDir dir;
  EXPECT_ERROR_WITH(read_llama_vocab_tests(dir.file("none.inp"), dir.file("none.out")),
                    "cannot open", "none.inp");
}

TEST(LlamaVocabTests, RealQwen2Vectors) {
  SLIM_ASSET_OR_SKIP(inp, "llama.cpp/models/ggml-vocab-qwen2.gguf.inp");
  SLIM_ASSET_OR_SKIP(out, "llama.cpp/models/ggml-vocab-qwen2.gguf.out");
  const auto cases = read_llama_vocab_tests(inp, out);
  ASSERT_EQ(cases.size(), 46u);
  EXPECT_EQ(cases[0].text, "ied 4 \xc2\xbd months");
  EXPECT_EQ(cases[0].ids, (std::vector<int32_t>{1122, 220, 19, 220, 26062, 3951}));
  EXPECT_EQ(cases[2].text, "");
  EXPECT_TRUE(cases[2].ids.empty());
  EXPECT_EQ(cases[8].text, "\n\n");
}

}  // namespace
