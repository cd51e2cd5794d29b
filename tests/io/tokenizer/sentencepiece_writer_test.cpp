// serialize_sentencepiece_model: what it writes parses back (parse_sentencepiece_model) as the same
// model, and encodes as the original does; bad models are refused naming the piece.
#include <gtest/gtest.h>

#include <string>

#include "slim/io/gguf.h"
#include "slim/io/tokenizer/sentencepiece.h"
#include "support/assets.h"
#include "support/expect_error.h"

namespace {

using slim::io::PieceType;
using slim::io::SentencePieceAlgorithm;
using slim::io::SentencePieceModel;

SentencePieceModel small_model() {
  SentencePieceModel model;
  model.source = "small";
  model.algorithm = SentencePieceAlgorithm::kBpe;
  model.pieces = {{"<unk>", 0.0f, PieceType::kUnknown},
                  {"<s>", 0.0f, PieceType::kControl},
                  {"</s>", 0.0f, PieceType::kControl},
                  {"<0x41>", 0.0f, PieceType::kByte},
                  {"\xE2\x96\x81h", -1.5f, PieceType::kNormal},  // "▁h"
                  {"i", -2.25f, PieceType::kNormal},
                  {"\xE2\x96\x81hi", -0.5f, PieceType::kNormal},
                  {"<sep>", 0.0f, PieceType::kUserDefined},
                  {"\xE2\x96\x81", -3.0f, PieceType::kNormal},
                  {"h", -4.0f, PieceType::kNormal},
                  {"old", 0.0f, PieceType::kUnused}};
  model.byte_fallback = true;
  model.unk_id = 0;
  model.bos_id = 1;
  model.eos_id = 2;
  model.normalizer.add_dummy_prefix = true;
  model.normalizer.remove_extra_whitespaces = false;
  model.normalizer.escape_whitespaces = true;
  return model;
}

void expect_same_model(const SentencePieceModel& a, const SentencePieceModel& b) {
  ASSERT_EQ(a.pieces.size(), b.pieces.size());
  for (size_t i = 0; i < a.pieces.size(); ++i) {
    EXPECT_EQ(a.pieces[i].piece, b.pieces[i].piece) << i;
    EXPECT_EQ(a.pieces[i].score, b.pieces[i].score) << i;
    EXPECT_EQ(a.pieces[i].type, b.pieces[i].type) << i;
  }
  EXPECT_EQ(a.algorithm, b.algorithm);
  EXPECT_EQ(a.byte_fallback, b.byte_fallback);
  EXPECT_EQ(a.treat_whitespace_as_suffix, b.treat_whitespace_as_suffix);
  EXPECT_EQ(a.unk_id, b.unk_id);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
  EXPECT_EQ(a.pad_id, b.pad_id);
  EXPECT_EQ(a.unk_surface, b.unk_surface);
  EXPECT_EQ(a.normalizer.precompiled_charsmap, b.normalizer.precompiled_charsmap);
  EXPECT_EQ(a.normalizer.add_dummy_prefix, b.normalizer.add_dummy_prefix);
  EXPECT_EQ(a.normalizer.remove_extra_whitespaces, b.normalizer.remove_extra_whitespaces);
  EXPECT_EQ(a.normalizer.escape_whitespaces, b.normalizer.escape_whitespaces);
}

TEST(SentencePieceWriter, RoundTripsEveryField) {
  const SentencePieceModel model = small_model();
  const std::string bytes = slim::io::serialize_sentencepiece_model(model);
  expect_same_model(model, slim::io::parse_sentencepiece_model(bytes, "written"));
}

TEST(SentencePieceWriter, RoundTripsOtherSettings) {
  SentencePieceModel model = small_model();
  model.algorithm = SentencePieceAlgorithm::kUnigram;
  model.treat_whitespace_as_suffix = true;
  model.byte_fallback = true;
  model.pieces[7].type = PieceType::kControl;
  model.pad_id = 7;  // a control piece, as SentencePiece resolves pad by its piece
  model.unk_surface = "?";
  model.normalizer.add_dummy_prefix = false;
  model.normalizer.remove_extra_whitespaces = true;
  model.normalizer.escape_whitespaces = false;
  model.normalizer.precompiled_charsmap = std::string("\x04\x00\x00\x00\x00\x00\x00\x00", 8);
  const auto parsed = slim::io::parse_sentencepiece_model(
      slim::io::serialize_sentencepiece_model(model), "written");
  expect_same_model(model, parsed);
}

TEST(SentencePieceWriter, EncodesLikeTheOriginal) {
  SentencePieceModel model = small_model();
  model.pieces[3] = {"A", -5.0f, PieceType::kNormal};  // byte fallback needs all 256 byte pieces
  model.byte_fallback = false;
  const slim::io::SentencePieceTokenizer original(model, true, false);
  const slim::io::SentencePieceTokenizer reread(
      slim::io::parse_sentencepiece_model(slim::io::serialize_sentencepiece_model(model), "w"),
      true, false);
  for (const char* text : {"hi", "hi hi", " h", "A<sep>hi", "zz"})
    EXPECT_EQ(original.encode(text), reread.encode(text)) << text;
}

TEST(SentencePieceWriter, LlamaSpmVocabularyRoundTrips) {
  SLIM_ASSET_OR_SKIP(vocab, "llama.cpp/models/ggml-vocab-llama-spm.gguf");
  const auto model = slim::io::sentencepiece_model_from_gguf(*slim::io::GgufFile::open(vocab));
  expect_same_model(model, slim::io::parse_sentencepiece_model(
                               slim::io::serialize_sentencepiece_model(model), "written"));
}

TEST(SentencePieceWriterErrors, NoUnknownPiece) {
  SentencePieceModel model = small_model();
  model.pieces[0].type = PieceType::kControl;
  EXPECT_ERROR_WITH(slim::io::serialize_sentencepiece_model(model), "small",
                    "no piece has type UNKNOWN");
}

TEST(SentencePieceWriterErrors, DuplicatePiece) {
  SentencePieceModel model = small_model();
  model.pieces[5].piece = "h";
  EXPECT_ERROR_WITH(slim::io::serialize_sentencepiece_model(model), "small", "piece 9 'h'",
                    "appears more than once");
}

TEST(SentencePieceWriterErrors, EmptyPiece) {
  SentencePieceModel model = small_model();
  model.pieces[4].piece = "";
  EXPECT_ERROR_WITH(slim::io::serialize_sentencepiece_model(model), "small", "piece 4 is empty");
}

}  // namespace
