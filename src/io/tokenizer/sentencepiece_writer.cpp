// SentencePieceModel -> tokenizer.model: the protobuf wire format of sentencepiece_model.proto's
// ModelProto, written directly (the fields parse_sentencepiece_model reads, see
// sentencepiece_model.cpp for their numbers). Fields are written in field-number order, as
// protobuf serializers do; proto2 defaults are written explicitly where the reader's default
// would differ from the model's value.
#include <cstring>
#include <string>
#include <unordered_set>

#include "slim/core/error.h"
#include "slim/io/tokenizer/sentencepiece.h"

namespace slim::io {

namespace {

constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

class WireWriter {
 public:
  void varint(uint64_t value) {
    while (value >= 0x80) {
      bytes_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    bytes_.push_back(static_cast<char>(value));
  }
  void tag(uint32_t field, uint32_t wire_type) {
    varint((static_cast<uint64_t>(field) << 3) | wire_type);
  }
  // proto2 int32 / enum / bool: negative values are sign-extended to 64 bits (10 bytes).
  void int_field(uint32_t field, int64_t value) {
    tag(field, kVarint);
    varint(static_cast<uint64_t>(value));
  }
  void bool_field(uint32_t field, bool value) { int_field(field, value ? 1 : 0); }
  void float_field(uint32_t field, float value) {
    tag(field, kFixed32);
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    for (int i = 0; i < 4; ++i)
      bytes_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  void bytes_field(uint32_t field, const std::string& value) {
    tag(field, kLengthDelimited);
    varint(value.size());
    bytes_ += value;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

std::string piece_of(const SentencePieceModel& model, const std::optional<TokenId>& id,
                     const char* fallback) {
  if (id && *id >= 0 && static_cast<size_t>(*id) < model.pieces.size())
    return model.pieces[*id].piece;
  return fallback;
}

}  // namespace

std::string serialize_sentencepiece_model(const SentencePieceModel& model) {
  const std::string& source = model.source;
  SLIM_CHECK(!model.pieces.empty(), source, ": cannot write a tokenizer.model without pieces");
  std::unordered_set<std::string> seen;
  std::optional<size_t> unk;
  for (size_t i = 0; i < model.pieces.size(); ++i) {
    const auto& piece = model.pieces[i];
    SLIM_CHECK(!piece.piece.empty(), source, ": piece ", i,
               " is empty, which SentencePiece does not accept");
    SLIM_CHECK(seen.insert(piece.piece).second, source, ": piece ", i, " ", quote(piece.piece),
               " appears more than once, which SentencePiece does not accept");
    if (piece.type == PieceType::kUnknown) {
      SLIM_CHECK(!unk, source, ": pieces ", *unk, " and ", i, " are both of type UNKNOWN");
      unk = i;
    }
  }
  SLIM_CHECK(unk.has_value(), source,
             ": no piece has type UNKNOWN, which SentencePiece requires (the unk piece)");

  WireWriter out;
  for (const auto& piece : model.pieces) {
    WireWriter message;
    message.bytes_field(1, piece.piece);
    message.float_field(2, piece.score);
    message.int_field(3, static_cast<int32_t>(piece.type));
    out.bytes_field(1, message.bytes());
  }

  WireWriter trainer;
  trainer.int_field(3, static_cast<int32_t>(model.algorithm));      // model_type
  trainer.int_field(4, static_cast<int64_t>(model.pieces.size()));  // vocab_size
  trainer.bool_field(24, model.treat_whitespace_as_suffix);
  trainer.bool_field(35, model.byte_fallback);
  trainer.int_field(40, static_cast<int64_t>(*unk));                // unk_id
  trainer.int_field(41, model.bos_id ? *model.bos_id : -1);         // bos_id
  trainer.int_field(42, model.eos_id ? *model.eos_id : -1);         // eos_id
  trainer.int_field(43, model.pad_id ? *model.pad_id : -1);         // pad_id
  trainer.bytes_field(44, model.unk_surface);                       // unk_surface
  trainer.bytes_field(45, model.pieces[*unk].piece);                // unk_piece
  trainer.bytes_field(46, piece_of(model, model.bos_id, "<s>"));    // bos_piece
  trainer.bytes_field(47, piece_of(model, model.eos_id, "</s>"));   // eos_piece
  trainer.bytes_field(48, piece_of(model, model.pad_id, "<pad>"));  // pad_piece
  out.bytes_field(2, trainer.bytes());

  WireWriter normalizer;
  const auto& spec = model.normalizer;
  // SentencePiece applies the precompiled charsmap when there is one; the name is informational.
  normalizer.bytes_field(1, spec.precompiled_charsmap.empty()
                                ? std::string("identity")
                                : (spec.name.empty() ? std::string("precompiled") : spec.name));
  if (!spec.precompiled_charsmap.empty()) normalizer.bytes_field(2, spec.precompiled_charsmap);
  normalizer.bool_field(3, spec.add_dummy_prefix);
  normalizer.bool_field(4, spec.remove_extra_whitespaces);
  normalizer.bool_field(5, spec.escape_whitespaces);
  out.bytes_field(3, normalizer.bytes());
  return out.bytes();
}

}  // namespace slim::io
