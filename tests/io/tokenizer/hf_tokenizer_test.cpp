// tokenizer.json components on small hand-made tokenizers, and bad input.
#include "slim/io/tokenizer/hf_tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "slim/core/files.h"
#include "slim/io/tokenizer/tokenizer.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using nlohmann::json;
using slim::io::TokenId;
using slim::testing::TempDir;
using Ids = std::vector<TokenId>;

// Writes tokenizer.json (and tokenizer_config.json when given) and loads the directory.
std::unique_ptr<slim::io::Tokenizer> load(const TempDir& dir, const json& tokenizer,
                                          const json& config = json()) {
  slim::write_file(dir.file("tokenizer.json"), tokenizer.dump());
  if (!config.is_null()) slim::write_file(dir.file("tokenizer_config.json"), config.dump());
  return slim::io::load_tokenizer(dir.path());
}

// A character-level BPE over "a".."e", "▁" and a few merges, SentencePiece-style.
json spm_style() {
  json vocab = {{"<unk>", 0},   {"<s>", 1},     {"</s>", 2},   {"\u2581", 3},   {"a", 4},
                {"b", 5},       {"c", 6},       {"ab", 7},     {"\u2581ab", 8}, {"abc", 9},
                {"<0x21>", 10}, {"<0xC3>", 11}, {"<0xA9>", 12}};
  return {{"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", "\u2581"}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}}},
          {"pre_tokenizer", nullptr},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model",
           {{"type", "BPE"},
            {"unk_token", "<unk>"},
            {"fuse_unk", true},
            {"byte_fallback", true},
            {"vocab", vocab},
            {"merges", {"a b", "\u2581 ab", "ab c"}}}}};
}

TEST(HfTokenizer, SentencePieceStyleBpeWithByteFallbackAndUnk) {
  TempDir dir;
  const auto tokenizer = load(dir, spm_style());
  EXPECT_EQ(tokenizer->encode("ab", false), (Ids{8}));  // ▁ab via merges
  // Lowest rank first: a+b everywhere, then ▁+ab; "ab c" never gets its turn.
  EXPECT_EQ(tokenizer->encode("abc ab", false), (Ids{8, 6, 8}));
  EXPECT_EQ(tokenizer->encode("ab", true), (Ids{1, 8}));              // template adds <s>
  EXPECT_EQ(tokenizer->encode("a!", false), (Ids{3, 4, 10}));         // "!" by byte fallback
  EXPECT_EQ(tokenizer->encode("\xC3\xA9", false), (Ids{3, 11, 12}));  // é as two byte tokens
  EXPECT_EQ(tokenizer->encode("zz", false), (Ids{3, 0}));  // unknown chars fuse into one unk
  EXPECT_EQ(tokenizer->decode({1, 3, 9, 8, 10, 11, 12}), "<s> abc ab!\xC3\xA9");
  EXPECT_EQ(tokenizer->decode({1, 8}, /*skip_special_tokens=*/true), "ab");
  // An incomplete byte sequence decodes to U+FFFD per byte.
  EXPECT_EQ(tokenizer->decode({11}), "\xEF\xBF\xBD");
  EXPECT_EQ(tokenizer->vocab_size(), 13);
  EXPECT_EQ(tokenizer->token_to_id("abc"), 9);
  EXPECT_EQ(tokenizer->id_to_token(7), "ab");
  EXPECT_TRUE(tokenizer->is_special(1));
  EXPECT_FALSE(tokenizer->is_special(7));
}

TEST(HfTokenizer, AddedTokensAreNeverSplitAndPrependAppliesPerSegment) {
  TempDir dir;
  const auto tokenizer = load(dir, spm_style());
  EXPECT_EQ(tokenizer->encode("ab</s>ab", false), (Ids{8, 2, 8}));
  EXPECT_EQ(tokenizer->encode("<s>", false), (Ids{1}));
}

TEST(HfTokenizer, TokenizerConfigSwitchesRebuildTheTemplate) {
  TempDir dir;
  const auto tokenizer = load(dir, spm_style(),
                              {{"add_bos_token", false},
                               {"add_eos_token", true},
                               {"bos_token", "<s>"},
                               {"eos_token", "</s>"}});
  EXPECT_EQ(tokenizer->encode("ab", true), (Ids{8, 2}));
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
}

TEST(HfTokenizer, TokenizerConfigTokenObjectsAndErrors) {
  TempDir dir;
  auto tokenizer = load(dir, spm_style(), {{"bos_token", {{"content", "<s>"}, {"lstrip", false}}}});
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_ERROR_WITH(load(dir, spm_style(), {{"eos_token", "<|nope|>"}}), "'<|nope|>'",
                    "tokenizer_config.json");
  EXPECT_ERROR_WITH(load(dir, spm_style(), {{"add_bos_token", "yes"}}), "tokenizer_config.json",
                    "add_bos_token");
}

TEST(HfTokenizer, InvalidUtf8BecomesReplacementCharacter) {
  TempDir dir;
  const auto tokenizer = load(dir, spm_style());
  // 0xFF is never valid: it becomes U+FFFD, which this vocabulary encodes by byte fallback... or
  // unk when the bytes are missing (here: unk).
  EXPECT_EQ(tokenizer->encode("a\xFF", false), (Ids{3, 4, 0}));
  EXPECT_EQ(tokenizer->encode(std::string("\xC3", 1), false), (Ids{3, 0}));
}

// A byte-level tokenizer with the GPT-2 regex: bytes map to printable characters.
json byte_level() {
  json vocab = json::object();
  int id = 0;
  // Byte-level alphabet for the bytes used below: "a", "b", " " (Ġ), "!".
  for (const char* token : {"a", "b", "\u0120", "!", "\u0120a", "ab", "\u0120ab"})
    vocab[token] = id++;
  return {
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"added_tokens", json::array({{{"id", 7}, {"content", "<|end|>"}, {"special", true}}})},
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges", json::array({{"\u0120", "a"}, {"\u0120a", "b"}, {"a", "b"}})}}}};
}

TEST(HfTokenizer, ByteLevelBpeWithArrayMerges) {
  TempDir dir;
  const auto tokenizer = load(dir, byte_level());
  EXPECT_EQ(tokenizer->encode("ab ab!", true), (Ids{5, 6, 3}));
  EXPECT_EQ(tokenizer->encode("ab<|end|> a", true), (Ids{5, 7, 4}));
  EXPECT_EQ(tokenizer->decode({5, 6, 3}), "ab ab!");
  EXPECT_EQ(tokenizer->decode({5, 7, 4}, true), "ab a");
}

TEST(HfTokenizer, IgnoreMergesUsesWholeWordsFromTheVocabulary) {
  TempDir dir;
  json tokenizer = byte_level();
  // Without merges, "ab" would be a + b; with ignore_merges the word is looked up whole.
  tokenizer["model"]["merges"] = json::array();
  tokenizer["model"]["ignore_merges"] = true;
  EXPECT_EQ(load(dir, tokenizer)->encode("ab a", false), (Ids{5, 4}));
  tokenizer["model"]["ignore_merges"] = false;
  EXPECT_EQ(load(dir, tokenizer)->encode("ab a", false), (Ids{0, 1, 2, 0}));
}

TEST(HfTokenizer, SplitBehaviours) {
  // Each behaviour on "a--b" split at "-", seen through a vocabulary of single characters where
  // pieces are visible because BPE cannot merge across them.
  struct Case {
    const char* behavior;
    bool invert;
    Ids expected;
  };
  json vocab = {{"a", 0},  {"b", 1},  {"-", 2},   {"a-", 3},
                {"-b", 4}, {"--", 5}, {"a--", 6}, {"--b", 7}};
  json merges = {"a -", "- b", "- -", "a- -", "-- b"};
  const Case cases[] = {
      {"Removed", false, {0, 1}},
      {"Isolated", false, {0, 2, 2, 1}},
      {"MergedWithPrevious", false, {3, 2, 1}},
      {"MergedWithNext", false, {0, 2, 4}},
      {"Contiguous", false, {0, 5, 1}},
      {"Removed", true, {2, 2}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.behavior) + (c.invert ? " inverted" : ""));
    TempDir dir;
    const json tokenizer = {{"pre_tokenizer",
                             {{"type", "Split"},
                              {"pattern", {{"String", "-"}}},
                              {"behavior", c.behavior},
                              {"invert", c.invert}}},
                            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
    EXPECT_EQ(load(dir, tokenizer)->encode("a--b", false), c.expected);
  }
}

TEST(HfTokenizer, MetaspacePrependSchemeFirstOnlyAtTextStart) {
  TempDir dir;
  json vocab = {{"\u2581", 0}, {"a", 1}, {"\u2581a", 2}, {"<x>", 3}};
  const json tokenizer = {
      {"added_tokens", {{{"id", 3}, {"content", "<x>"}, {"special", true}}}},
      {"pre_tokenizer",
       {{"type", "Metaspace"},
        {"replacement", "\u2581"},
        {"prepend_scheme", "first"},
        {"split", true}}},
      {"decoder", {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"\u2581 a"}}}}};
  const auto loaded = load(dir, tokenizer);
  EXPECT_EQ(loaded->encode("a a", false), (Ids{2, 2}));
  EXPECT_EQ(loaded->encode("<x>a", false), (Ids{3, 1}));     // not at the start: no prefix
  EXPECT_EQ(loaded->encode("a  a", false), (Ids{2, 0, 2}));  // "▁" alone, then "▁a"
  EXPECT_EQ(loaded->decode({2, 0, 2}), "a  a");
}

TEST(HfTokenizer, AddedTokenStripAndSingleWord) {
  TempDir dir;
  json vocab = {{"a", 0}, {" ", 1}, {"[M]", 2}, {"w", 3}};
  const json tokenizer = {
      {"added_tokens",
       {{{"id", 2}, {"content", "[M]"}, {"special", true}, {"lstrip", true}, {"rstrip", true}},
        {{"id", 3},
         {"content", "w"},
         {"special", false},
         {"single_word", true},
         {"normalized", false}}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
  const auto loaded = load(dir, tokenizer);
  EXPECT_EQ(loaded->encode("a  [M]  a", false), (Ids{0, 2, 0}));
  EXPECT_EQ(loaded->encode("a w a", false), (Ids{0, 1, 3, 1, 0}));
  // Inside a word "w" is not the added token; the model's own "w" (same id) encodes it.
  EXPECT_EQ(loaded->encode("awa", false), (Ids{0, 3, 0}));
}

TEST(HfTokenizer, NormalizersAndWordPiece) {
  TempDir dir;
  json vocab = {{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2},  {"hello", 3}, {"world", 4}, {"!", 5},
                {"un", 6},    {"##aff", 7}, {"##able", 8}, {"cafe", 9},  {"中", 10}};
  const json tokenizer = {
      {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "BertProcessing"}, {"sep", {"[SEP]", 2}}, {"cls", {"[CLS]", 1}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}}},
      {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", vocab}}}};
  const auto loaded = load(dir, tokenizer);
  EXPECT_EQ(loaded->encode("Hello, WORLD! Unaffable Café 中x", true),
            (Ids{1, 3, 0, 4, 5, 6, 7, 8, 9, 10, 0, 2}));
  EXPECT_EQ(loaded->decode({3, 4, 5, 6, 7, 8}), "hello world! unaffable");
}

TEST(HfTokenizer, UnicodeNormalizersLowercaseStripAndRegexReplace) {
  TempDir dir;
  json vocab = json::object();
  int id = 0;
  for (const char* token : {"e", "\u00e9", "\u0301", "x", "1", "ﬁ", "f", "i", "-"})
    vocab[token] = id++;
  const auto tokenizer_with = [&](const json& normalizer) {
    return json{{"normalizer", normalizer},
                {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
  };
  EXPECT_EQ(load(dir, tokenizer_with({{"type", "NFC"}}))->encode("e\u0301", false), (Ids{1}));
  EXPECT_EQ(load(dir, tokenizer_with({{"type", "NFD"}}))->encode("\u00e9", false), (Ids{0, 2}));
  EXPECT_EQ(load(dir, tokenizer_with({{"type", "NFKC"}}))->encode("ﬁ", false), (Ids{6, 7}));
  EXPECT_EQ(load(dir, tokenizer_with({{"type", "Lowercase"}}))->encode("X\u00c9", false),
            (Ids{3, 1}));
  EXPECT_EQ(
      load(dir, tokenizer_with({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}))
          ->encode("  x\t", false),
      (Ids{3}));
  EXPECT_EQ(
      load(dir, tokenizer_with(
                    {{"type", "Replace"}, {"pattern", {{"Regex", "\\p{N}+"}}}, {"content", "-"}}))
          ->encode("x123x", false),
      (Ids{3, 8, 3}));
}

TEST(HfTokenizer, EncodeBatchEqualsOneByOne) {
  TempDir dir;
  const auto tokenizer = load(dir, spm_style());
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i)
    texts.push_back(std::string(i % 7, 'a') + " abc" + std::string(i % 3, 'b'));
  const auto batch = tokenizer->encode_batch(texts, true);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(batch[i], tokenizer->encode(texts[i], true)) << i;
}

// ------------------------------------------------------------------------------ bad input

TEST(HfTokenizerBadInput, UnsupportedComponentTypesAreNamed) {
  TempDir dir;
  json tokenizer = spm_style();
  tokenizer["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", ""}};
  EXPECT_ERROR_WITH(load(dir, tokenizer), "tokenizer.json", "normalizer", "'Precompiled'", "NFKC");
  tokenizer = spm_style();
  tokenizer["pre_tokenizer"] = {{"type", "UnicodeScripts"}};
  EXPECT_ERROR_WITH(load(dir, tokenizer), "pre_tokenizer", "'UnicodeScripts'");
  tokenizer = spm_style();
  tokenizer["decoder"] = {{"type", "CTC"}};
  EXPECT_ERROR_WITH(load(dir, tokenizer), "decoder", "'CTC'");
  tokenizer = spm_style();
  tokenizer["model"]["type"] = "Unigram";
  EXPECT_ERROR_WITH(load(dir, tokenizer), "model", "'Unigram'");
  tokenizer = spm_style();
  tokenizer["post_processor"] = {{"type", "Fancy"}};
  EXPECT_ERROR_WITH(load(dir, tokenizer), "post_processor", "'Fancy'");
  tokenizer = spm_style();
  tokenizer["model"]["dropout"] = 0.1;
  EXPECT_ERROR_WITH(load(dir, tokenizer), "dropout");
}

TEST(HfTokenizerBadInput, MalformedFilesNameTheFileAndKey) {
  TempDir dir;
  slim::write_file(dir.file("tokenizer.json"), "{\"model\": ");
  EXPECT_ERROR_WITH(slim::io::load_tokenizer(dir.path()), "tokenizer.json", "not valid JSON");
  json tokenizer = spm_style();
  tokenizer.erase("model");
  EXPECT_ERROR_WITH(load(dir, tokenizer), "tokenizer.json", "'model'");
  tokenizer = spm_style();
  tokenizer["model"]["merges"].push_back("zz q");
  EXPECT_ERROR_WITH(load(dir, tokenizer), "merge 3", "'zz'");
  tokenizer = spm_style();
  tokenizer["model"]["merges"].push_back("nospace");
  EXPECT_ERROR_WITH(load(dir, tokenizer), "merge 3", "'nospace'");
  tokenizer = spm_style();
  tokenizer["model"]["vocab"]["x"] = "seven";
  EXPECT_ERROR_WITH(load(dir, tokenizer), "vocab entry 'x'");
  tokenizer = spm_style();
  tokenizer["model"]["unk_token"] = "<missing>";
  EXPECT_ERROR_WITH(load(dir, tokenizer), "unk_token '<missing>'");
  tokenizer = spm_style();
  tokenizer["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_ERROR_WITH(load(dir, tokenizer), "(unclosed", "does not compile");
  tokenizer = spm_style();
  tokenizer["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"String", "x"}}}, {"behavior", "Sideways"}};
  EXPECT_ERROR_WITH(load(dir, tokenizer), "'Sideways'");
  tokenizer = spm_style();
  tokenizer["normalizer"] = {{"type", 5}};
  EXPECT_ERROR_WITH(load(dir, tokenizer), "tokenizer.json");
}

TEST(HfTokenizerBadInput, MissingTokenizerFiles) {
  TempDir dir;
  EXPECT_ERROR_WITH(slim::io::load_tokenizer(dir.path()), "no tokenizer.json or tokenizer.model");
  EXPECT_ERROR_WITH(slim::io::load_tokenizer(dir.file("absent")), "no such file");
  slim::write_file(dir.file("vocab.txt"), "x");
  EXPECT_ERROR_WITH(slim::io::load_tokenizer(dir.file("vocab.txt")), "not a tokenizer file");
}

}  // namespace
