// Golden ids: SentencePiece vocabularies from llama.cpp's GGUF vocab files against llama.cpp's
// tokenizer test vectors (models/ggml-vocab-<name>.gguf.inp/.out, produced with Hugging Face's
// tokenizer of the same model, add_special_tokens=False). Assets: scripts/fetch-assets.sh.
//   llama-spm  Llama 2 (BPE, byte fallback, dummy prefix, identity normalization)
//   phi-3      Phi-3 (the same, with added user-defined and control tokens)
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "slim/io/gguf.h"
#include "slim/io/tokenizer/sentencepiece.h"
#include "support/assets.h"
#include "support/llama_vocab_tests.h"

namespace {

using slim::io::GgufFile;
using slim::io::SentencePieceTokenizer;
using slim::io::TokenId;

std::string join(const std::vector<TokenId>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i)
    out << (i ? " " : "") << ids[i];
  return "[" + out.str() + "]";
}

// Encodes every case without special tokens and expects llama.cpp's ids; with special tokens
// BOS comes first, and decoding gives the text back (byte fallback covers every character and
// only the dummy prefix is removed).
void expect_golden_ids(const std::string& name) {
  const std::string base = "llama.cpp/models/ggml-vocab-" + name + ".gguf";
  SLIM_ASSET_OR_SKIP(vocab, base);
  SLIM_ASSET_OR_SKIP(inp, base + ".inp");
  SLIM_ASSET_OR_SKIP(out, base + ".out");
  const auto model = slim::io::sentencepiece_model_from_gguf(*GgufFile::open(vocab));
  EXPECT_EQ(model.algorithm, slim::io::SentencePieceAlgorithm::kBpe);
  EXPECT_TRUE(model.byte_fallback);
  EXPECT_TRUE(model.normalizer.add_dummy_prefix);
  EXPECT_FALSE(model.normalizer.remove_extra_whitespaces);
  const SentencePieceTokenizer tokenizer(model, /*add_bos=*/true, /*add_eos=*/false);
  ASSERT_TRUE(tokenizer.bos_id().has_value());

  const auto cases = slim::testing::read_llama_vocab_tests(inp, out);
  ASSERT_GT(cases.size(), 30u);
  size_t mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto ids = tokenizer.encode(cases[i].text, /*add_special_tokens=*/false);
    if (ids != cases[i].ids) {
      ++mismatches;
      ADD_FAILURE() << name << " input " << i << " " << testing::PrintToString(cases[i].text)
                    << "\n  expected " << join(cases[i].ids) << "\n  slim     " << join(ids);
    }
    const auto with_bos = tokenizer.encode(cases[i].text);
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos.front(), *tokenizer.bos_id());
    EXPECT_EQ(tokenizer.decode(with_bos), cases[i].text) << name << " input " << i;
  }
  EXPECT_EQ(mismatches, 0u) << "of " << cases.size() << " inputs of " << name;
}

TEST(SentencePieceGolden, LlamaSpmVectorsFromGgufVocabulary) {
  expect_golden_ids("llama-spm");
}

// Phi-3: Llama 2's vocabulary plus added user-defined and control tokens.
TEST(SentencePieceGolden, Phi3VectorsFromGgufVocabulary) {
  expect_golden_ids("phi-3");
}

}  // namespace
