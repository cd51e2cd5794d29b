// SentencePiece: the tokenizer.model parser on hand-built protobuf bytes (valid and malformed),
// GGUF vocabularies, the normalizer (with a hand-built charsmap), BPE and unigram on tiny
// vocabularies, decoding, and the Tokenizer interface. Real models: sentencepiece_golden_test.cpp
// and tests/python/sentencepiece_conformance.py.
#include "slim/io/tokenizer/sentencepiece.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/io/gguf.h"
#include "support/expect_error.h"
#include "support/gguf_bytes.h"
#include "support/temp_dir.h"

namespace {

using slim::io::GgufFile;
using slim::io::GgufType;
using slim::io::PieceType;
using slim::io::SentencePieceAlgorithm;
using slim::io::SentencePieceModel;
using slim::io::SentencePieceTokenizer;
using slim::io::TokenId;
using slim::testing::GgufBytes;
using slim::testing::TempDir;

const std::string kSp = "\xE2\x96\x81";  // ▁

// ------------------------------------------------------------------------- protobuf bytes

class Proto {
 public:
  Proto& varint(uint32_t field, uint64_t value) {
    tag(field, 0);
    return raw_varint(value);
  }
  Proto& f32(uint32_t field, float value) {
    tag(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    for (int i = 0; i < 4; ++i)
      data_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
    return *this;
  }
  Proto& fixed64(uint32_t field, uint64_t value) {
    tag(field, 1);
    for (int i = 0; i < 8; ++i)
      data_.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
    return *this;
  }
  Proto& bytes(uint32_t field, const std::string& value) {
    tag(field, 2);
    raw_varint(value.size());
    data_ += value;
    return *this;
  }
  Proto& message(uint32_t field, const Proto& value) { return bytes(field, value.str()); }
  Proto& raw(const std::string& bytes) {
    data_ += bytes;
    return *this;
  }
  Proto& tag(uint32_t field, uint32_t wire_type) { return raw_varint((field << 3) | wire_type); }
  Proto& raw_varint(uint64_t value) {
    while (value >= 0x80) {
      data_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    data_.push_back(static_cast<char>(value));
    return *this;
  }
  const std::string& str() const { return data_; }

 private:
  std::string data_;
};

Proto piece_proto(const std::string& piece, float score, int type = 1) {
  Proto p;
  p.bytes(1, piece).f32(2, score);
  if (type != 1) p.varint(3, static_cast<uint64_t>(type));
  return p;
}

// <unk> <s> </s> a b ab, BPE, identity normalization without dummy prefix, with the given extra
// trainer and normalizer fields (later fields win).
Proto small_model(const Proto& trainer_extra = {}, const Proto& normalizer_extra = {}) {
  Proto m;
  m.message(1, piece_proto("<unk>", 0, 2))
      .message(1, piece_proto("<s>", 0, 3))
      .message(1, piece_proto("</s>", 0, 3))
      .message(1, piece_proto("a", -1))
      .message(1, piece_proto("b", -2))
      .message(1, piece_proto("ab", -0.5f));
  Proto trainer;
  trainer.varint(3, 2).raw(trainer_extra.str());
  m.message(2, trainer);
  Proto normalizer;
  normalizer.bytes(1, "identity").varint(3, 0).raw(normalizer_extra.str());
  m.message(3, normalizer);
  return m;
}

SentencePieceModel parse(const Proto& proto, const std::string& source = "tokenizer.model") {
  return slim::io::parse_sentencepiece_model(proto.str(), source);
}

// -------------------------------------------------------------------------- model builders

struct PieceSpec {
  std::string piece;
  float score;
  PieceType type = PieceType::kNormal;
};

// <unk> <s> </s>, then `pieces` (ids from 3), then the 256 byte pieces when `byte_fallback`.
SentencePieceModel make_model(SentencePieceAlgorithm algorithm,
                              const std::vector<PieceSpec>& pieces, bool byte_fallback = false) {
  SentencePieceModel model;
  model.source = "test.model";
  model.algorithm = algorithm;
  model.byte_fallback = byte_fallback;
  model.pieces.push_back({"<unk>", 0, PieceType::kUnknown});
  model.pieces.push_back({"<s>", 0, PieceType::kControl});
  model.pieces.push_back({"</s>", 0, PieceType::kControl});
  for (const auto& p : pieces)
    model.pieces.push_back({p.piece, p.score, p.type});
  if (byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      model.pieces.push_back({name, 0, PieceType::kByte});
    }
  }
  model.unk_id = 0;
  model.bos_id = 1;
  model.eos_id = 2;
  return model;
}

// Ids of pieces in the model (for readable expectations).
std::vector<TokenId> ids_of(const SentencePieceTokenizer& tokenizer,
                            const std::vector<std::string>& pieces) {
  std::vector<TokenId> ids;
  for (const auto& piece : pieces) {
    const auto id = tokenizer.token_to_id(piece);
    EXPECT_TRUE(id.has_value()) << piece;
    ids.push_back(id.value_or(-1));
  }
  return ids;
}

std::vector<TokenId> encode(const SentencePieceTokenizer& tokenizer, const std::string& text) {
  return tokenizer.encode(text, /*add_special_tokens=*/false);
}

// A charsmap laid out by hand in darts-clone's double array, with three rules:
// "A" -> "a", "AB" -> "x", "\t" -> " ".
std::string tiny_charsmap() {
  std::vector<uint32_t> units(512, 0);
  const uint32_t leaf = 1u << 8;
  units[0] = 1u << 10;                             // root: children at 1 ^ label
  units[1 ^ 'A'] = (0x80u << 10) | leaf | 'A';     // 64 -> children at 192
  units[192] = (1u << 31) | 0;                     // value: "a"
  units[192 ^ 'B'] = (0x80u << 10) | leaf | 'B';   // 130 -> children at 2
  units[2] = (1u << 31) | 2;                       // value: "x"
  units[1 ^ '\t'] = (0x100u << 10) | leaf | '\t';  // 8 -> children at 264
  units[264] = (1u << 31) | 4;                     // value: " "
  std::string blob(4, '\0');
  const uint32_t size = static_cast<uint32_t>(units.size() * 4);
  std::memcpy(blob.data(), &size, 4);
  blob.append(reinterpret_cast<const char*>(units.data()), units.size() * 4);
  blob.append(std::string("a\0x\0 \0", 6));
  return blob;
}

// What a tokenizer that was built guarantees, whatever its model: every id is a piece of the
// vocabulary, the pieces of the encoding cover the normalized text exactly (a byte-fallback piece
// stands for its byte, an unk piece for the text it replaced), and the ids decode.
void expect_consistent_encoding(const SentencePieceTokenizer& tokenizer, const std::string& text) {
  const std::vector<TokenId> ids = tokenizer.encode(text, false);
  const std::vector<std::string> pieces = tokenizer.encode_pieces(text);
  ASSERT_EQ(ids.size(), pieces.size());
  std::string covered;
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_GE(ids[i], 0);
    ASSERT_LT(ids[i], tokenizer.vocab_size());
    const auto& piece = tokenizer.model().pieces[ids[i]];
    if (piece.type == PieceType::kByte) {
      ASSERT_EQ(pieces[i], piece.piece);
      covered.push_back(static_cast<char>(std::stoi(piece.piece.substr(3, 2), nullptr, 16)));
    } else {
      if (ids[i] != tokenizer.model().unk_id) {
        EXPECT_EQ(pieces[i], piece.piece);
      }
      covered += pieces[i];
    }
  }
  EXPECT_EQ(covered, tokenizer.normalize(text));
  tokenizer.decode(ids);
}

// =================================================================== tokenizer.model parsing

TEST(SentencePieceModelFile, ParsesPiecesTrainerAndNormalizerSpecs) {
  Proto trainer;
  trainer.varint(35, 0).varint(24, 1).bytes(44, "<?>").bytes(46, "<s>");
  Proto normalizer;
  normalizer.varint(3, 0).varint(4, 0).varint(5, 0).bytes(2, tiny_charsmap());
  const auto model = parse(small_model(trainer, normalizer));
  ASSERT_EQ(model.pieces.size(), 6u);
  EXPECT_EQ(model.pieces[0].piece, "<unk>");
  EXPECT_EQ(model.pieces[0].type, PieceType::kUnknown);
  EXPECT_EQ(model.pieces[1].type, PieceType::kControl);
  EXPECT_EQ(model.pieces[5].piece, "ab");
  EXPECT_FLOAT_EQ(model.pieces[5].score, -0.5f);
  EXPECT_EQ(model.pieces[5].type, PieceType::kNormal);
  EXPECT_EQ(model.algorithm, SentencePieceAlgorithm::kBpe);
  EXPECT_FALSE(model.byte_fallback);
  EXPECT_TRUE(model.treat_whitespace_as_suffix);
  EXPECT_EQ(model.unk_surface, "<?>");
  EXPECT_EQ(model.unk_id, 0);
  EXPECT_EQ(model.bos_id, 1);
  EXPECT_EQ(model.eos_id, 2);
  EXPECT_FALSE(model.pad_id.has_value());  // no <pad> piece
  EXPECT_EQ(model.normalizer.name, "identity");
  EXPECT_FALSE(model.normalizer.add_dummy_prefix);
  EXPECT_FALSE(model.normalizer.remove_extra_whitespaces);
  EXPECT_FALSE(model.normalizer.escape_whitespaces);
  EXPECT_EQ(model.normalizer.precompiled_charsmap, tiny_charsmap());
  EXPECT_EQ(model.source, "tokenizer.model");
}

TEST(SentencePieceModelFile, Proto2DefaultsWhenFieldsAreAbsent) {
  Proto m;
  m.message(1, piece_proto("<unk>", 0, 2)).message(1, piece_proto("x", -1));
  const auto model = parse(m);
  EXPECT_EQ(model.algorithm, SentencePieceAlgorithm::kUnigram);
  EXPECT_FALSE(model.byte_fallback);
  EXPECT_TRUE(model.normalizer.add_dummy_prefix);
  EXPECT_TRUE(model.normalizer.remove_extra_whitespaces);
  EXPECT_TRUE(model.normalizer.escape_whitespaces);
  EXPECT_TRUE(model.normalizer.precompiled_charsmap.empty());
  EXPECT_EQ(model.unk_surface, " \xE2\x81\x87 ");
  EXPECT_FALSE(model.bos_id.has_value());
  EXPECT_EQ(model.pieces[1].type, PieceType::kNormal);
}

TEST(SentencePieceModelFile, SkipsUnknownFieldsOfEveryWireType) {
  Proto unknown;
  unknown.varint(97, 123456789).fixed64(98, 42).f32(99, 1.0f).bytes(100, "ignored");
  Proto m;
  Proto piece = piece_proto("<unk>", 0, 2);
  piece.raw(unknown.str());
  m.raw(unknown.str()).message(1, piece).message(1, piece_proto("a", -1));
  Proto trainer;
  trainer.raw(unknown.str()).varint(3, 2).bytes(1, "input.txt").varint(4, 8000);
  Proto normalizer;
  normalizer.raw(unknown.str()).bytes(6, "rule\ttsv");
  m.message(2, trainer).message(3, normalizer).bytes(4, "self test data");
  const auto model = parse(m);
  EXPECT_EQ(model.pieces.size(), 2u);
  EXPECT_EQ(model.algorithm, SentencePieceAlgorithm::kBpe);
}

TEST(SentencePieceModelFile, NegativeIdsAreTenByteVarints) {
  Proto trainer;
  trainer.varint(41, static_cast<uint64_t>(int64_t{-1})).varint(43, static_cast<uint64_t>(-1));
  const auto model = parse(small_model(trainer));
  EXPECT_EQ(model.bos_id, 1);  // resolved from the <s> control piece, as SentencePiece does
}

TEST(SentencePieceModelFile, SpecialIdsComeFromPieceNamesAndTypes) {
  Proto m;
  m.message(1, piece_proto("[UNK]", 0, 2))
      .message(1, piece_proto("[BOS]", 0, 3))
      .message(1, piece_proto("</s>", 0, 1))  // NORMAL, so not the eos
      .message(1, piece_proto("[PAD]", 0, 3));
  Proto trainer;
  trainer.bytes(45, "[UNK]").bytes(46, "[BOS]").bytes(48, "[PAD]");
  m.message(2, trainer);
  const auto model = parse(m);
  EXPECT_EQ(model.unk_id, 0);
  EXPECT_EQ(model.bos_id, 1);
  EXPECT_FALSE(model.eos_id.has_value());
  EXPECT_EQ(model.pad_id, 3);
}

TEST(SentencePieceModelFile, RepeatedSpecsMergeAsProtobufDoes) {
  Proto m = small_model();
  Proto more;
  more.varint(35, 0).varint(3, 1);
  m.message(2, more);  // a later trainer_spec: its fields win, the others stay
  EXPECT_EQ(parse(m).algorithm, SentencePieceAlgorithm::kUnigram);
}

TEST(SentencePieceModelFile, ReadsFileFromDisk) {
  TempDir dir;
  const std::string path = dir.file("tokenizer.model");
  slim::write_file(path, small_model().str());
  const auto model = slim::io::read_sentencepiece_model(path);
  EXPECT_EQ(model.source, path);
  EXPECT_EQ(model.pieces.size(), 6u);
  EXPECT_ERROR_WITH(slim::io::read_sentencepiece_model(dir.file("missing.model")), "missing.model");
}

// Every truncation of a valid model and random bytes written into it: parsing (and building the
// tokenizer) either throws slim::Error naming the source, or gives a model whose unk id is a
// piece and a tokenizer whose encodings are consistent. Both outcomes happen.
TEST(SentencePieceModelFile, GarbageAndTruncationsNeverCrash) {
  const std::string valid = small_model(Proto(), Proto().bytes(2, tiny_charsmap())).str();
  int rejected = 0;
  int accepted = 0;
  const auto check = [&](const std::string& bytes, const std::string& source) {
    try {
      const auto model = slim::io::parse_sentencepiece_model(bytes, source);
      ASSERT_TRUE(model.unk_id.has_value());
      ASSERT_LT(*model.unk_id, static_cast<TokenId>(model.pieces.size()));
      const SentencePieceTokenizer tokenizer(model, true, false);
      expect_consistent_encoding(tokenizer, "aab ba\tAB\xFF");
      ++accepted;
    } catch (const slim::Error& error) {
      EXPECT_NE(std::string(error.what()).find(source), std::string::npos) << error.what();
      ++rejected;
    }
  };
  for (size_t n = 0; n < valid.size(); n += 3) {
    SCOPED_TRACE("first " + std::to_string(n) + " bytes");
    check(valid.substr(0, n), "cut.model");
  }
  uint32_t state = 12345;
  for (int round = 0; round < 2000; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string bytes = valid;
    for (int k = 0; k < 4; ++k) {
      state = state * 1664525u + 1013904223u;
      bytes[state % bytes.size()] = static_cast<char>(state >> 24);
    }
    check(bytes, "fuzz.model");
  }
  RecordProperty("rejected", rejected);
  RecordProperty("accepted", accepted);
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

// -------------------------------------------------------- tokenizer.model: bad input, one each

TEST(SentencePieceModelBadInput, TruncatedTag) {
  Proto m = small_model();
  m.raw("\x88");  // a tag varint with the continuation bit and nothing after it
  EXPECT_ERROR_WITH(parse(m, "t.model"), "t.model", "ModelProto", "truncated varint", "field tag");
}

TEST(SentencePieceModelBadInput, VarintLongerThanTenBytes) {
  Proto m = small_model();
  m.raw(std::string("\x08") + std::string(10, '\xFF') + "\x01");
  EXPECT_ERROR_WITH(parse(m, "t.model"), "t.model", "longer than");
}

TEST(SentencePieceModelBadInput, LengthBeyondMessage) {
  Proto m = small_model();
  m.tag(1, 2).raw_varint(1000).raw("abc");
  EXPECT_ERROR_WITH(parse(m, "t.model"), "t.model", "ModelProto", "field 1 declares 1000 bytes",
                    "only 3 remain");
}

TEST(SentencePieceModelBadInput, TruncatedFixed32InPiece) {
  Proto m = small_model();
  m.bytes(1, std::string("\x0a\x01z\x15\x00\x00", 6));  // score with 2 of its 4 bytes
  EXPECT_ERROR_WITH(parse(m, "t.model"), "ModelProto.pieces[6]", "field 2 needs 4 bytes");
}

TEST(SentencePieceModelBadInput, GroupWireType) {
  Proto m = small_model();
  m.tag(7, 3);
  EXPECT_ERROR_WITH(parse(m, "t.model"), "field 7", "unsupported wire type 3", "start-group");
}

TEST(SentencePieceModelBadInput, FieldNumberZero) {
  Proto m = small_model();
  m.raw(std::string("\x00\x01", 2));
  EXPECT_ERROR_WITH(parse(m, "t.model"), "invalid field number 0");
}

TEST(SentencePieceModelBadInput, ScoreWithWrongWireType) {
  Proto m = small_model();
  Proto piece;
  piece.bytes(1, "zz").varint(2, 5);
  m.message(1, piece);
  EXPECT_ERROR_WITH(parse(m, "t.model"), "t.model", "ModelProto.pieces[6].score", "varint",
                    "expected 32-bit");
}

TEST(SentencePieceModelBadInput, PiecesWithWrongWireType) {
  Proto m = small_model();
  m.varint(1, 3);
  EXPECT_ERROR_WITH(parse(m, "t.model"), "ModelProto.pieces (field 1)", "expected length");
}

TEST(SentencePieceModelBadInput, UnknownPieceType) {
  Proto m = small_model();
  m.message(1, piece_proto("zz", 0, 9));
  EXPECT_ERROR_WITH(parse(m, "t.model"), "ModelProto.pieces[6].type is 9", "not a piece type");
}

TEST(SentencePieceModelBadInput, NoPieces) {
  Proto m;
  m.message(2, Proto().varint(3, 2));
  EXPECT_ERROR_WITH(parse(m, "t.model"), "t.model", "no pieces");
}

TEST(SentencePieceModelBadInput, EmptyFile) {
  EXPECT_ERROR_WITH(slim::io::parse_sentencepiece_model("", "empty.model"), "empty.model",
                    "no pieces");
}

TEST(SentencePieceModelBadInput, NoUnknownPiece) {
  Proto m;
  m.message(1, piece_proto("a", -1));
  EXPECT_ERROR_WITH(parse(m, "t.model"), "t.model", "no piece has type UNKNOWN");
}

TEST(SentencePieceModelBadInput, TwoUnknownPieces) {
  Proto m = small_model();
  m.message(1, piece_proto("<unk2>", 0, 2));
  EXPECT_ERROR_WITH(parse(m, "t.model"), "pieces 0 and 6 are both of type UNKNOWN");
}

TEST(SentencePieceModelBadInput, WordModelIsRefused) {
  EXPECT_ERROR_WITH(parse(small_model(Proto().varint(3, 3)), "t.model"), "model_type is 3", "WORD",
                    "only UNIGRAM (1) and BPE (2)");
}

TEST(SentencePieceModelBadInput, CharModelIsRefused) {
  EXPECT_ERROR_WITH(parse(small_model(Proto().varint(3, 4)), "t.model"), "model_type is 4", "CHAR");
}

TEST(SentencePieceModelBadInput, ErrorInNestedTrainerSpecNamesIt) {
  Proto trainer;
  trainer.bytes(45, "x").raw("\xA8");  // a truncated tag inside trainer_spec
  EXPECT_ERROR_WITH(parse(small_model(trainer), "t.model"), "ModelProto.trainer_spec",
                    "truncated varint");
}

// Checks SentencePiece also makes when it loads a model (SentencePieceTokenizer validates).

TEST(SentencePieceModelBadInput, EmptyPiece) {
  Proto m = small_model();
  m.message(1, piece_proto("", -1));
  EXPECT_ERROR_WITH(SentencePieceTokenizer(parse(m, "t.model"), true, false), "t.model",
                    "piece 6 is empty");
}

TEST(SentencePieceModelBadInput, DuplicatePiece) {
  Proto m = small_model();
  m.message(1, piece_proto("ab", -3));
  EXPECT_ERROR_WITH(SentencePieceTokenizer(parse(m, "t.model"), true, false), "t.model",
                    "piece 'ab' (id 6) is already defined as id 5");
}

TEST(SentencePieceModelBadInput, BytePieceWithoutByteFallback) {
  Proto m = small_model();
  m.message(1, piece_proto("<0x41>", 0, 6));
  EXPECT_ERROR_WITH(SentencePieceTokenizer(parse(m, "t.model"), true, false),
                    "byte piece '<0x41>' (id 6)", "byte_fallback is false");
}

TEST(SentencePieceModelBadInput, MalformedBytePiece) {
  Proto m = small_model(Proto().varint(35, 1));
  m.message(1, piece_proto("<0xZZ>", 0, 6));
  EXPECT_ERROR_WITH(SentencePieceTokenizer(parse(m, "t.model"), true, false),
                    "'<0xZZ>' has type BYTE but is not of the form <0xXX>");
}

TEST(SentencePieceModelBadInput, ByteFallbackWithoutAllBytePieces) {
  Proto m = small_model(Proto().varint(35, 1));
  m.message(1, piece_proto("<0x00>", 0, 6));
  EXPECT_ERROR_WITH(SentencePieceTokenizer(parse(m, "t.model"), true, false), "t.model",
                    "no byte piece <0x01>", "all 256");
}

TEST(SentencePieceModelBadInput, CharsmapTooShort) {
  const auto model = parse(small_model({}, Proto().bytes(2, "abc")), "t.model");
  EXPECT_ERROR_WITH(SentencePieceTokenizer(model, true, false),
                    "t.model: normalizer_spec.precompiled_charsmap", "too short");
}

TEST(SentencePieceModelBadInput, CharsmapTrieSizeNotMultipleOf1024) {
  std::string blob = tiny_charsmap();
  const uint32_t size = 1000;
  std::memcpy(blob.data(), &size, 4);
  const auto model = parse(small_model({}, Proto().bytes(2, blob)), "t.model");
  EXPECT_ERROR_WITH(SentencePieceTokenizer(model, true, false), "precompiled_charsmap",
                    "trie size 1000", "multiple of 1024");
}

TEST(SentencePieceModelBadInput, CharsmapTrieBeyondBlob) {
  std::string blob = tiny_charsmap();
  const uint32_t size = 1u << 20;
  std::memcpy(blob.data(), &size, 4);
  const auto model = parse(small_model({}, Proto().bytes(2, blob)), "t.model");
  EXPECT_ERROR_WITH(SentencePieceTokenizer(model, true, false), "trie size 1048576",
                    "leaves no room");
}

TEST(SentencePieceModelBadInput, CharsmapWithoutFinalNul) {
  std::string blob = tiny_charsmap();
  blob.back() = 'z';
  const auto model = parse(small_model({}, Proto().bytes(2, blob)), "t.model");
  EXPECT_ERROR_WITH(SentencePieceTokenizer(model, true, false), "do not end with a NUL byte");
}

TEST(SentencePieceModelBadInput, SpecialIdOutsideVocabulary) {
  auto model = make_model(SentencePieceAlgorithm::kBpe, {{"a", -1}});
  model.eos_id = 99;
  EXPECT_ERROR_WITH(SentencePieceTokenizer(model, true, false), "test.model", "eos id 99",
                    "outside the vocabulary of 4 pieces");
}

TEST(SentencePieceModelBadInput, NoUnkId) {
  auto model = make_model(SentencePieceAlgorithm::kBpe, {{"a", -1}});
  model.unk_id.reset();
  EXPECT_ERROR_WITH(SentencePieceTokenizer(model, true, false), "test.model", "no unk id");
}

// A corrupted charsmap: a blob whose header is wrong (trie size, missing final NUL) is refused
// with an error naming the charsmap; one whose trie units are garbage never reads outside its
// array, whatever the text, and the tokenizer's encodings stay consistent. Both outcomes happen.
TEST(SentencePieceModelBadInput, CorruptedCharsmapTrieNeverCrashes) {
  std::string text;
  for (int c = 1; c < 256; ++c)
    text.push_back(static_cast<char>(c));
  int rejected = 0;
  int accepted = 0;
  uint32_t state = 7;
  const auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int round = 0; round < 64; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string blob = tiny_charsmap();
    for (size_t i = 4; i + 4 <= 4 + 2048; i += 4) {
      const uint32_t unit = next();
      std::memcpy(blob.data() + i, &unit, 4);
    }
    if (round % 8 == 1) {
      const uint32_t size = next();  // almost never a multiple of 1024 inside the blob
      std::memcpy(blob.data(), &size, 4);
    } else if (round % 8 == 2) {
      blob.back() = 'x';  // the replacement strings lose their final NUL
    }
    auto model = make_model(SentencePieceAlgorithm::kUnigram, {{kSp, -1}, {"a", -2}});
    model.normalizer.precompiled_charsmap = blob;
    try {
      const SentencePieceTokenizer tokenizer(model, true, false);
      expect_consistent_encoding(tokenizer, text);
      expect_consistent_encoding(tokenizer, text + text);
      ++accepted;
    } catch (const slim::Error& error) {
      EXPECT_NE(std::string(error.what()).find("test.model: normalizer_spec.precompiled_charsmap"),
                std::string::npos)
          << error.what();
      ++rejected;
    }
  }
  RecordProperty("rejected", rejected);
  RecordProperty("accepted", accepted);
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

// ========================================================================== GGUF vocabularies

GgufBytes llama_vocab(const std::string& kind = "llama") {
  GgufBytes b;
  b.header(0, 6);
  b.kv_string("tokenizer.ggml.model", kind);
  b.kv_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", kSp, "a", "b", kSp + "a", "ab"});
  b.kv_f32s("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3, -1.5f, -0.5f});
  b.kv_i32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1});
  b.kv_u32("tokenizer.ggml.bos_token_id", 1);
  b.kv_bool("tokenizer.ggml.add_eos_token", true);
  return b;
}

std::shared_ptr<GgufFile> open_gguf(const TempDir& dir, const GgufBytes& bytes) {
  const std::string path = dir.file("vocab.gguf");
  slim::write_file(path, bytes.str());
  return GgufFile::open(path);
}

TEST(SentencePieceGguf, LlamaVocabularyIsBpeWithLlamaCppDefaults) {
  TempDir dir;
  const auto model = slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, llama_vocab()));
  EXPECT_EQ(model.algorithm, SentencePieceAlgorithm::kBpe);
  EXPECT_EQ(model.pieces.size(), 8u);
  EXPECT_EQ(model.pieces[7].piece, "ab");
  EXPECT_FLOAT_EQ(model.pieces[7].score, -0.5f);
  EXPECT_EQ(model.pieces[0].type, PieceType::kUnknown);
  EXPECT_EQ(model.unk_id, 0);
  EXPECT_EQ(model.bos_id, 1);
  EXPECT_EQ(model.eos_id, 2);
  EXPECT_FALSE(model.pad_id.has_value());
  EXPECT_FALSE(model.byte_fallback);
  EXPECT_TRUE(model.normalizer.add_dummy_prefix);
  EXPECT_FALSE(model.normalizer.remove_extra_whitespaces);
  EXPECT_EQ(model.add_eos, true);
  EXPECT_FALSE(model.add_bos.has_value());

  const auto tokenizer = slim::io::make_sentencepiece_tokenizer(model);
  // "aab": ▁ a a b -> ab (-0.5) first, then ▁a (-1.5): ▁a ab; BOS by default, EOS from the file.
  EXPECT_EQ(tokenizer->encode("aab"), (std::vector<TokenId>{1, 6, 7, 2}));
  EXPECT_EQ(tokenizer->decode({1, 6, 7, 2}), "aab");
}

TEST(SentencePieceGguf, T5VocabularyIsUnigramWithCharsmap) {
  TempDir dir;
  GgufBytes b;
  b.header(0, 6);
  b.kv_string("tokenizer.ggml.model", "t5");
  b.kv_strings("tokenizer.ggml.tokens", {"<pad>", "</s>", "<unk>", kSp, "a", "x"});
  b.kv_f32s("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -2});
  b.kv_i32s("tokenizer.ggml.token_type", {3, 3, 2, 1, 1, 1});
  b.kv_bool("tokenizer.ggml.add_space_prefix", true);
  b.kv_u8s("tokenizer.ggml.precompiled_charsmap", tiny_charsmap());
  const auto model = slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, b));
  EXPECT_EQ(model.algorithm, SentencePieceAlgorithm::kUnigram);
  EXPECT_EQ(model.unk_id, 2);
  EXPECT_EQ(model.eos_id, 1);
  EXPECT_EQ(model.pad_id, 0);
  EXPECT_FALSE(model.bos_id.has_value());
  EXPECT_EQ(model.normalizer.precompiled_charsmap, tiny_charsmap());
  const SentencePieceTokenizer tokenizer(model, false, true);
  EXPECT_EQ(tokenizer.normalize("AB A"), kSp + "x" + kSp + "a");
  EXPECT_EQ(tokenizer.encode("AB A"), (std::vector<TokenId>{3, 5, 3, 4, 1}));
}

TEST(SentencePieceGguf, MinimalVocabularyWithoutScoresOrTypes) {
  TempDir dir;
  GgufBytes b;
  b.header(0, 2);
  b.kv_string("tokenizer.ggml.model", "llama");
  b.kv_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", kSp, "a"});
  const auto model = slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, b));
  EXPECT_EQ(model.pieces[0].type, PieceType::kUnknown);  // from the default unk id
  EXPECT_EQ(model.pieces[4].score, 0.0f);
  const SentencePieceTokenizer tokenizer(model, true, false);
  EXPECT_EQ(tokenizer.encode("a"), (std::vector<TokenId>{1, 3, 4}));
}

TEST(SentencePieceGguf, LoadSentencepieceAcceptsGgufFiles) {
  TempDir dir;
  const std::string path = dir.file("vocab.gguf");
  slim::write_file(path, llama_vocab().str());
  const auto tokenizer = slim::io::load_sentencepiece(path, false, false);
  EXPECT_EQ(tokenizer->encode("ab"), (std::vector<TokenId>{3, 7}));
}

TEST(SentencePieceGgufBadInput, NotASentencePieceVocabulary) {
  TempDir dir;
  EXPECT_ERROR_WITH(slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, llama_vocab("gpt2"))),
                    "vocab.gguf", "tokenizer.ggml.model is 'gpt2'", "'llama' or 't5'");
}

TEST(SentencePieceGgufBadInput, MissingTokens) {
  TempDir dir;
  GgufBytes b;
  b.header(0, 1).kv_string("tokenizer.ggml.model", "llama");
  EXPECT_ERROR_WITH(slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, b)), "vocab.gguf",
                    "'tokenizer.ggml.tokens' is missing");
}

TEST(SentencePieceGgufBadInput, ScoresOfWrongLength) {
  TempDir dir;
  GgufBytes b;
  b.header(0, 3).kv_string("tokenizer.ggml.model", "llama");
  b.kv_strings("tokenizer.ggml.tokens", {"<unk>", "a"}).kv_f32s("tokenizer.ggml.scores", {0});
  EXPECT_ERROR_WITH(slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, b)),
                    "tokenizer.ggml.scores has 1 entries", "tokens has 2");
}

TEST(SentencePieceGgufBadInput, ScoresOfWrongType) {
  TempDir dir;
  GgufBytes b;
  b.header(0, 3).kv_string("tokenizer.ggml.model", "llama");
  b.kv_strings("tokenizer.ggml.tokens", {"<unk>", "a"}).kv_i32s("tokenizer.ggml.scores", {0, 1});
  EXPECT_ERROR_WITH(slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, b)),
                    "'tokenizer.ggml.scores'", "array of int32", "expected array of float32");
}

TEST(SentencePieceGgufBadInput, InvalidTokenType) {
  TempDir dir;
  GgufBytes b;
  b.header(0, 3).kv_string("tokenizer.ggml.model", "llama");
  b.kv_strings("tokenizer.ggml.tokens", {"<unk>", "a"});
  b.kv_i32s("tokenizer.ggml.token_type", {2, 0});
  EXPECT_ERROR_WITH(slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, b)),
                    "tokenizer.ggml.token_type[1] is 0", "not a token type");
}

TEST(SentencePieceGgufBadInput, SpecialIdOutsideVocabulary) {
  TempDir dir;
  GgufBytes b;
  b.header(0, 3).kv_string("tokenizer.ggml.model", "llama");
  b.kv_strings("tokenizer.ggml.tokens", {"<unk>", "a"}).kv_u32("tokenizer.ggml.eos_token_id", 5);
  EXPECT_ERROR_WITH(slim::io::sentencepiece_model_from_gguf(*open_gguf(dir, b)),
                    "tokenizer.ggml.eos_token_id is 5", "outside the 2-token vocabulary");
}

// ================================================================================= normalizer

SentencePieceTokenizer normalizer_only(bool add_dummy_prefix, bool remove_extra, bool escape,
                                       bool suffix = false, const std::string& charsmap = "") {
  auto model = make_model(SentencePieceAlgorithm::kUnigram, {{kSp, -1}});
  model.normalizer.add_dummy_prefix = add_dummy_prefix;
  model.normalizer.remove_extra_whitespaces = remove_extra;
  model.normalizer.escape_whitespaces = escape;
  model.normalizer.precompiled_charsmap = charsmap;
  model.treat_whitespace_as_suffix = suffix;
  return SentencePieceTokenizer(model, true, false);
}

TEST(SentencePieceNormalizer, DefaultsCollapseAndTrimWhitespace) {
  const auto t = normalizer_only(true, true, true);
  EXPECT_EQ(t.normalize("  Hello   world  "), kSp + "Hello" + kSp + "world");
  EXPECT_EQ(t.normalize("   "), "");
  EXPECT_EQ(t.normalize(""), "");
  EXPECT_EQ(t.normalize("\tx"), kSp + "\tx");  // only ' ' is whitespace without a charsmap
}

TEST(SentencePieceNormalizer, KeepsWhitespaceWithoutRemoveExtraWhitespaces) {
  const auto t = normalizer_only(true, false, true);
  EXPECT_EQ(t.normalize(" a  b "), kSp + kSp + "a" + kSp + kSp + "b" + kSp);
  EXPECT_EQ(t.normalize(" "), kSp + kSp);
}

TEST(SentencePieceNormalizer, NoDummyPrefix) {
  EXPECT_EQ(normalizer_only(false, true, true).normalize("a b"), "a" + kSp + "b");
}

TEST(SentencePieceNormalizer, UnescapedWhitespace) {
  EXPECT_EQ(normalizer_only(true, true, false).normalize("a  b "), " a b");
}

TEST(SentencePieceNormalizer, WhitespaceAsSuffix) {
  EXPECT_EQ(normalizer_only(true, true, true, true).normalize(" a b "), "a" + kSp + "b" + kSp);
}

TEST(SentencePieceNormalizer, CharsmapLongestMatchAndWhitespaceRules) {
  const auto t = normalizer_only(true, true, true, false, tiny_charsmap());
  EXPECT_EQ(t.normalize("AB A\tC"), kSp + "x" + kSp + "a" + kSp + "C");
  // "\t" becomes a space, which then collapses with its neighbours.
  EXPECT_EQ(t.normalize("A \t C\t"), kSp + "a" + kSp + "C");
  EXPECT_EQ(t.normalize("\t\tAAB"), kSp + "ax");
}

TEST(SentencePieceNormalizer, InvalidUtf8BecomesReplacementCharacters) {
  const auto t = normalizer_only(true, true, true);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(t.normalize("a\xFF"
                        "b"),
            kSp + "a" + fffd + "b");
  EXPECT_EQ(t.normalize("\xE2\x82"), kSp + fffd + fffd);                 // truncated sequence
  EXPECT_EQ(t.normalize("\xC0\xAF"), kSp + fffd + fffd);                 // overlong
  EXPECT_EQ(t.normalize("\xED\xA0\x80"), kSp + fffd + fffd + fffd);      // surrogate
  EXPECT_EQ(t.normalize("\xF0\x9F\xA6\x99"), kSp + "\xF0\x9F\xA6\x99");  // valid 4-byte
}

TEST(SentencePieceNormalizer, UserDefinedPiecesAreNotNormalized) {
  auto model =
      make_model(SentencePieceAlgorithm::kUnigram, {{kSp, -1}, {"AB", 0, PieceType::kUserDefined}});
  model.normalizer.precompiled_charsmap = tiny_charsmap();
  const SentencePieceTokenizer t(model, true, false);
  EXPECT_EQ(t.normalize("AB A"), kSp + "AB" + kSp + "a");
}

// ======================================================================================== BPE

TEST(SentencePieceBpe, MergesBestScoringPairFirst) {
  const SentencePieceTokenizer t(make_model(SentencePieceAlgorithm::kBpe, {{kSp, -5},
                                                                           {"a", -5},
                                                                           {"b", -5},
                                                                           {"c", -5},
                                                                           {"ab", -1},
                                                                           {"bc", -0.5f},
                                                                           {kSp + "a", -2},
                                                                           {"abc", -0.1f}}),
                                 true, false);
  // ▁ a b c: bc (-0.5) beats ab (-1) and ▁a (-2); then a+bc = abc (-0.1).
  EXPECT_EQ(t.encode_pieces("abc"), (std::vector<std::string>{kSp, "abc"}));
  EXPECT_EQ(encode(t, "abc"), ids_of(t, {kSp, "abc"}));
}

TEST(SentencePieceBpe, TiesGoToTheLeftmostPair) {
  const SentencePieceTokenizer t(
      make_model(SentencePieceAlgorithm::kBpe,
                 {{kSp, -5}, {"a", -5}, {"b", -5}, {"c", -5}, {"ab", -1}, {"bc", -1}}),
      true, false);
  EXPECT_EQ(t.encode_pieces("abc"), (std::vector<std::string>{kSp, "ab", "c"}));
}

TEST(SentencePieceBpe, UnknownCharactersMergeIntoOneUnk) {
  const SentencePieceTokenizer t(make_model(SentencePieceAlgorithm::kBpe, {{kSp, -1}, {"a", -1}}),
                                 true, false);
  EXPECT_EQ(encode(t, "a€€a"), (std::vector<TokenId>{3, 4, 0, 4}));
  EXPECT_EQ(t.encode_pieces("a€€a"), (std::vector<std::string>{kSp, "a", "€€", "a"}));
  EXPECT_EQ(encode(t, "€a€"), (std::vector<TokenId>{3, 0, 4, 0}));
}

TEST(SentencePieceBpe, ByteFallbackForUnknownCharacters) {
  const SentencePieceTokenizer t(
      make_model(SentencePieceAlgorithm::kBpe, {{kSp, -1}, {"a", -1}}, true), true, false);
  EXPECT_EQ(t.encode_pieces("a€"),
            (std::vector<std::string>{kSp, "a", "<0xE2>", "<0x82>", "<0xAC>"}));
  EXPECT_EQ(t.decode(encode(t, "a€")), "a€");
}

TEST(SentencePieceBpe, UserDefinedPiecesStayWhole) {
  const SentencePieceTokenizer t(
      make_model(SentencePieceAlgorithm::kBpe, {{kSp, -1},
                                                {"a", -1},
                                                {"b", -1},
                                                {"<br>", 0, PieceType::kUserDefined},
                                                {"a<br>", -0.1f},
                                                {"<", -1},
                                                {">", -1}}),
      true, false);
  EXPECT_EQ(t.encode_pieces("a<br>b"), (std::vector<std::string>{kSp, "a", "<br>", "b"}));
}

TEST(SentencePieceBpe, UnusedPiecesAreSplitBack) {
  const SentencePieceTokenizer t(
      make_model(
          SentencePieceAlgorithm::kBpe,
          {{kSp, -5}, {"a", -5}, {"b", -5}, {"c", -5}, {"ab", 0, PieceType::kUnused}, {"abc", -1}}),
      true, false);
  // "ab" may be an intermediate merge but is never output.
  EXPECT_EQ(t.encode_pieces("ab"), (std::vector<std::string>{kSp, "a", "b"}));
  EXPECT_EQ(t.encode_pieces("abc"), (std::vector<std::string>{kSp, "abc"}));
}

TEST(SentencePieceBpe, LongInputIsFast) {
  const SentencePieceTokenizer t(
      make_model(SentencePieceAlgorithm::kBpe, {{kSp, -1}, {"a", -1}, {"aa", -2}, {"aaaa", -3}}),
      true, false);
  const auto ids = encode(t, std::string(200000, 'a'));  // quadratic merging would take minutes
  EXPECT_EQ(ids.size(), 1u + 50000u);
}

// ==================================================================================== unigram

SentencePieceTokenizer small_unigram(bool byte_fallback = false) {
  return SentencePieceTokenizer(make_model(SentencePieceAlgorithm::kUnigram,
                                           {{kSp, -2},
                                            {"a", -3},
                                            {"b", -3},
                                            {"ab", -4},
                                            {kSp + "a", -2.5f},
                                            {kSp + "ab", -10},
                                            {"xyz", 0, PieceType::kUserDefined},
                                            {"x", -3},
                                            {"y", -3},
                                            {"z", -3}},
                                           byte_fallback),
                                true, false);
}

TEST(SentencePieceUnigram, ViterbiPicksTheBestSegmentation) {
  const auto t = small_unigram();
  // ▁a+b = -5.5 beats ▁+ab = -6, ▁+a+b = -8 and ▁ab = -10.
  EXPECT_EQ(t.encode_pieces("ab"), (std::vector<std::string>{kSp + "a", "b"}));
}

TEST(SentencePieceUnigram, UnknownCharactersScoreBelowEveryPieceAndMerge) {
  const auto t = small_unigram();
  EXPECT_EQ(t.encode_pieces("a€€b"), (std::vector<std::string>{kSp + "a", "€€", "b"}));
  EXPECT_EQ(encode(t, "a€€b"), (std::vector<TokenId>{7, 0, 5}));
}

TEST(SentencePieceUnigram, ByteFallbackForUnknownCharacters) {
  const auto t = small_unigram(true);
  EXPECT_EQ(t.encode_pieces("€"), (std::vector<std::string>{kSp, "<0xE2>", "<0x82>", "<0xAC>"}));
}

TEST(SentencePieceUnigram, UserDefinedPiecesWin) {
  const auto t = small_unigram();
  EXPECT_EQ(t.encode_pieces("xyz"), (std::vector<std::string>{kSp, "xyz"}));
}

TEST(SentencePieceUnigram, TiesKeepTheFirstPathFound) {
  const SentencePieceTokenizer t(
      make_model(SentencePieceAlgorithm::kUnigram, {{kSp, -1}, {"a", -1}, {kSp + "a", -2}}), true,
      false);
  EXPECT_EQ(t.encode_pieces("a"), (std::vector<std::string>{kSp + "a"}));
}

TEST(SentencePieceUnigram, UnusedPiecesAreNeverChosen) {
  const SentencePieceTokenizer t(
      make_model(SentencePieceAlgorithm::kUnigram,
                 {{kSp, -1}, {"a", -1}, {"b", -1}, {"ab", 0, PieceType::kUnused}}),
      true, false);
  EXPECT_EQ(t.encode_pieces("ab"), (std::vector<std::string>{kSp, "a", "b"}));
}

// ===================================================================================== decode

TEST(SentencePieceDecode, ControlTokensVanishAndTheDummyPrefixIsRemoved) {
  auto model =
      make_model(SentencePieceAlgorithm::kUnigram, {{kSp, -1}, {"a", -1}, {kSp + "a", -1}});
  model.normalizer.remove_extra_whitespaces = false;
  const SentencePieceTokenizer t(model, true, false);
  EXPECT_EQ(t.decode({1, 5, 4, 2}), "aa");
  EXPECT_EQ(t.decode({3, 5}), " a");  // only the first piece's leading ▁ is the dummy prefix
  EXPECT_EQ(t.decode({4, 3, 4}), "a a");
  EXPECT_EQ(t.decode({4, 5}), "a a");
}

TEST(SentencePieceDecode, UnknownTokensDecodeToTheUnkSurface) {
  const auto t = small_unigram();
  EXPECT_EQ(t.decode({7, 0, 5}), "a \xE2\x81\x87 b");
  EXPECT_EQ(t.decode({7, 0, 5}, /*skip_special_tokens=*/true), "ab");
}

TEST(SentencePieceDecode, BytePiecesBecomeUtf8OrReplacementCharacters) {
  const auto t = small_unigram(true);
  const auto byte = [&](int b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    return *t.token_to_id(name);
  };
  EXPECT_EQ(t.decode({byte(0xE2), byte(0x82), byte(0xAC)}), "€");
  EXPECT_EQ(t.decode({byte(0xFF), 4}),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(t.decode({byte(0xE2), byte(0x82), 4}),
            "\xEF\xBF\xBD\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(t.decode({byte(0x20), 3, 4}), "  a");  // a byte space is text, not a dummy prefix
}

TEST(SentencePieceDecode, RemoveExtraWhitespacesStripsEveryLeadingSpace) {
  auto model = make_model(SentencePieceAlgorithm::kBpe, {{kSp, -1}, {"a", -1}});
  model.normalizer.remove_extra_whitespaces = true;
  const SentencePieceTokenizer t(model, true, false);
  EXPECT_EQ(t.decode({3, 3, 4, 3, 4}), "a a");
}

TEST(SentencePieceDecode, IdOutsideVocabularyIsAnError) {
  const auto t = small_unigram();
  EXPECT_ERROR_WITH(t.decode({4, 1000}), "test.model", "token id 1000",
                    "outside the vocabulary of 13 pieces");
  EXPECT_ERROR_WITH(t.decode({-1}), "token id -1");
}

// ===================================================================== the Tokenizer interface

TEST(SentencePieceTokenizer, SpecialTokensAndVocabulary) {
  auto model = make_model(SentencePieceAlgorithm::kUnigram, {{kSp, -1}, {"a", -1}});
  model.pad_id = 2;
  const SentencePieceTokenizer t(model, true, true);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.pad_id(), 2);
  EXPECT_EQ(t.vocab_size(), 5);
  EXPECT_EQ(t.token_to_id("a"), 4);
  EXPECT_EQ(t.token_to_id("<s>"), 1);
  EXPECT_FALSE(t.token_to_id("zzz").has_value());
  EXPECT_EQ(t.id_to_token(3), kSp);
  EXPECT_EQ(t.id_to_token(99), "");
  EXPECT_TRUE(t.is_special(0));
  EXPECT_TRUE(t.is_special(1));
  EXPECT_FALSE(t.is_special(4));
  EXPECT_FALSE(t.is_special(99));
  EXPECT_EQ(t.encode("a"), (std::vector<TokenId>{1, 3, 4, 2}));
  EXPECT_EQ(t.encode("a", false), (std::vector<TokenId>{3, 4}));
  EXPECT_EQ(t.encode(""), (std::vector<TokenId>{1, 2}));
}

TEST(SentencePieceTokenizer, SpecialTokenTextIsOrdinaryText) {
  const SentencePieceTokenizer t(
      make_model(SentencePieceAlgorithm::kBpe, {{kSp, -1}, {"<", -1}, {"s", -1}, {">", -1}}), true,
      false);
  EXPECT_EQ(t.encode_pieces("<s>"), (std::vector<std::string>{kSp, "<", "s", ">"}));
}

TEST(SentencePieceTokenizer, FactoryDefaultsAndOverrides) {
  TempDir dir;
  const std::string path = dir.file("tokenizer.model");
  slim::write_file(path, small_model().str());
  const auto plain = slim::io::load_sentencepiece(path);
  EXPECT_EQ(plain->encode("ab"), (std::vector<TokenId>{1, 5}));  // BOS, no EOS by default
  const auto eos = slim::io::load_sentencepiece(path, false, true);
  EXPECT_EQ(eos->encode("ab"), (std::vector<TokenId>{5, 2}));
  auto model = slim::io::read_sentencepiece_model(path);
  model.add_bos = false;  // the source's preference applies when the caller does not say
  EXPECT_EQ(slim::io::make_sentencepiece_tokenizer(model)->encode("ab"), (std::vector<TokenId>{5}));
  EXPECT_EQ(slim::io::make_sentencepiece_tokenizer(model, true)->encode("ab"),
            (std::vector<TokenId>{1, 5}));
}

TEST(SentencePieceTokenizer, InvalidUtf8NeverFails) {
  const auto t = small_unigram(true);
  std::string all_bytes;
  for (int b = 0; b < 256; ++b)
    all_bytes.push_back(static_cast<char>(b));
  const auto ids = encode(t, all_bytes + "\xE2\x82");
  EXPECT_FALSE(ids.empty());
  const std::string decoded = t.decode(ids);
  EXPECT_NE(decoded.find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
