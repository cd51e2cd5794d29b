// SentencePieceModel from a tokenizer.model (protobuf wire format, read directly) or from a GGUF
// vocabulary.
//
// sentencepiece_model.proto (proto2), the fields read here:
//   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec,
//                   5 denormalizer_spec
//   SentencePiece   1 piece (string), 2 score (float), 3 type (enum, default NORMAL)
//   TrainerSpec     3 model_type (enum, default UNIGRAM), 24 treat_whitespace_as_suffix,
//                   35 byte_fallback, 40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id,
//                   44 unk_surface, 45 unk_piece, 46 bos_piece, 47 eos_piece, 48 pad_piece
//   NormalizerSpec  1 name, 2 precompiled_charsmap (bytes), 3 add_dummy_prefix (default true),
//                   4 remove_extra_whitespaces (default true), 5 escape_whitespaces (default true)
// Every other field is skipped according to its wire type.
#include <spdlog/spdlog.h>

#include <cstring>

#include "io/tokenizer/sentencepiece_internal.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/io/gguf.h"

namespace slim::io {

namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

const char* wire_type_name(uint32_t type) {
  switch (type) {
    case kVarint:
      return "varint";
    case kFixed64:
      return "64-bit";
    case kLengthDelimited:
      return "length-delimited";
    case kStartGroup:
      return "start-group";
    case kEndGroup:
      return "end-group";
    case kFixed32:
      return "32-bit";
    default:
      return "invalid";
  }
}

struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;     // kVarint
  uint32_t fixed32 = 0;    // kFixed32
  std::string_view bytes;  // kLengthDelimited
};

// Reads the fields of one message. `path` names the message ("ModelProto.trainer_spec") and
// `base` is its offset in the file, for messages.
class WireReader {
 public:
  WireReader(std::string_view data, const std::string& source, std::string path, size_t base)
      : data_(data), source_(source), path_(std::move(path)), base_(base) {}

  bool done() const { return pos_ >= data_.size(); }
  size_t offset() const { return base_ + pos_; }  // of the next field
  const std::string& path() const { return path_; }

  Field next() {
    const size_t field_offset = offset();
    const uint64_t tag = varint("field tag", field_offset);
    Field field;
    field.wire_type = static_cast<uint32_t>(tag & 7);
    const uint64_t number = tag >> 3;
    SLIM_CHECK(number != 0 && number <= 536870911u, where(field_offset), ": invalid field number ",
               number);
    field.number = static_cast<uint32_t>(number);
    switch (field.wire_type) {
      case kVarint:
        field.varint = varint(str("field ", number), field_offset);
        break;
      case kFixed64:
        need(8, number, field_offset);
        pos_ += 8;
        break;
      case kFixed32:
        need(4, number, field_offset);
        field.fixed32 = load_u32(pos_);
        pos_ += 4;
        break;
      case kLengthDelimited: {
        const uint64_t length = varint(str("length of field ", number), field_offset);
        SLIM_CHECK(length <= data_.size() - pos_, where(field_offset), ": field ", number,
                   " declares ", length, " bytes but only ", data_.size() - pos_,
                   " remain in the message");
        field.bytes = data_.substr(pos_, length);
        pos_ += length;
        break;
      }
      default:
        SLIM_FAIL(where(field_offset), ": field ", number, " has unsupported wire type ",
                  field.wire_type, " (", wire_type_name(field.wire_type), ")");
    }
    return field;
  }

  // Offset in the file of a length-delimited field's payload (for nested messages).
  size_t payload_offset(const Field& field) const {
    return base_ + static_cast<size_t>(field.bytes.data() - data_.data());
  }

  void expect(const Field& field, uint32_t wire_type, const char* name) const {
    SLIM_CHECK(field.wire_type == wire_type, source_, ": ", path_, ".", name, " (field ",
               field.number, ") has wire type ", wire_type_name(field.wire_type), ", expected ",
               wire_type_name(wire_type));
  }

  std::string where(size_t at) const { return str(source_, ": ", path_, " at offset ", at); }

 private:
  uint64_t varint(const std::string& what, size_t field_offset) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      SLIM_CHECK(pos_ < data_.size(), where(field_offset), ": truncated varint (", what, ")");
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      SLIM_CHECK(shift < 63 || byte <= 1, where(field_offset), ": varint (", what,
                 ") is longer than 64 bits");
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    SLIM_FAIL(where(field_offset), ": varint (", what, ") is longer than 10 bytes");
  }
  void need(size_t n, uint64_t number, size_t field_offset) const {
    SLIM_CHECK(n <= data_.size() - pos_, where(field_offset), ": field ", number, " needs ", n,
               " bytes but only ", data_.size() - pos_, " remain in the message");
  }
  uint32_t load_u32(size_t at) const {
    const auto* b = reinterpret_cast<const uint8_t*>(data_.data() + at);
    return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
           (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }

  std::string_view data_;
  const std::string& source_;
  std::string path_;
  size_t base_;
  size_t pos_ = 0;
};

float as_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// proto2 int32: the low 32 bits of the (sign-extended) varint.
int32_t as_int32(uint64_t varint) {
  return static_cast<int32_t>(static_cast<uint32_t>(varint));
}

struct TrainerSpec {
  int32_t model_type = 1;
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  std::string unk_surface = " \xE2\x81\x87 ";
  std::string unk_piece = "<unk>";
  std::string bos_piece = "<s>";
  std::string eos_piece = "</s>";
  std::string pad_piece = "<pad>";
};

void parse_pieces_message(const std::string& source, std::string_view bytes, size_t base,
                          size_t index, SentencePieceModel::Piece* piece) {
  WireReader in(bytes, source, str("ModelProto.pieces[", index, "]"), base);
  while (!in.done()) {
    const Field field = in.next();
    switch (field.number) {
      case 1:
        in.expect(field, kLengthDelimited, "piece");
        piece->piece = std::string(field.bytes);
        break;
      case 2:
        in.expect(field, kFixed32, "score");
        piece->score = as_float(field.fixed32);
        break;
      case 3: {
        in.expect(field, kVarint, "type");
        const int32_t type = as_int32(field.varint);
        SLIM_CHECK(type >= 1 && type <= 6, source, ": ", in.path(), ".type is ", type,
                   ", not a piece type (1 NORMAL .. 6 BYTE)");
        piece->type = static_cast<PieceType>(type);
        break;
      }
      default:
        break;
    }
  }
}

void parse_trainer_spec(const std::string& source, std::string_view bytes, size_t base,
                        TrainerSpec* spec) {
  WireReader in(bytes, source, "ModelProto.trainer_spec", base);
  while (!in.done()) {
    const Field field = in.next();
    switch (field.number) {
      case 3:
        in.expect(field, kVarint, "model_type");
        spec->model_type = as_int32(field.varint);
        break;
      case 24:
        in.expect(field, kVarint, "treat_whitespace_as_suffix");
        spec->treat_whitespace_as_suffix = field.varint != 0;
        break;
      case 35:
        in.expect(field, kVarint, "byte_fallback");
        spec->byte_fallback = field.varint != 0;
        break;
      case 40:
      case 41:
      case 42:
      case 43:
        // unk_id, bos_id, eos_id, pad_id: SentencePiece resolves the special ids from the pieces
        // (by type and *_piece), so these are only checked for their wire type.
        in.expect(field, kVarint, "*_id");
        break;
      case 44:
        in.expect(field, kLengthDelimited, "unk_surface");
        spec->unk_surface = std::string(field.bytes);
        break;
      case 45:
        in.expect(field, kLengthDelimited, "unk_piece");
        spec->unk_piece = std::string(field.bytes);
        break;
      case 46:
        in.expect(field, kLengthDelimited, "bos_piece");
        spec->bos_piece = std::string(field.bytes);
        break;
      case 47:
        in.expect(field, kLengthDelimited, "eos_piece");
        spec->eos_piece = std::string(field.bytes);
        break;
      case 48:
        in.expect(field, kLengthDelimited, "pad_piece");
        spec->pad_piece = std::string(field.bytes);
        break;
      default:
        break;
    }
  }
}

void parse_normalizer_spec(const std::string& source, std::string_view bytes, size_t base,
                           const std::string& name, SentencePieceModel::Normalizer* spec) {
  WireReader in(bytes, source, "ModelProto." + name, base);
  while (!in.done()) {
    const Field field = in.next();
    switch (field.number) {
      case 1:
        in.expect(field, kLengthDelimited, "name");
        spec->name = std::string(field.bytes);
        break;
      case 2:
        in.expect(field, kLengthDelimited, "precompiled_charsmap");
        spec->precompiled_charsmap = std::string(field.bytes);
        break;
      case 3:
        in.expect(field, kVarint, "add_dummy_prefix");
        spec->add_dummy_prefix = field.varint != 0;
        break;
      case 4:
        in.expect(field, kVarint, "remove_extra_whitespaces");
        spec->remove_extra_whitespaces = field.varint != 0;
        break;
      case 5:
        in.expect(field, kVarint, "escape_whitespaces");
        spec->escape_whitespaces = field.varint != 0;
        break;
      default:
        break;
    }
  }
}

// The id of `piece` when it exists with `type`, as SentencePiece's bos_id() & co. resolve them.
std::optional<TokenId> find_piece(const SentencePieceModel& model, const std::string& piece,
                                  PieceType type) {
  for (size_t i = 0; i < model.pieces.size(); ++i) {
    if (model.pieces[i].type == type && model.pieces[i].piece == piece)
      return static_cast<TokenId>(i);
  }
  return std::nullopt;
}

}  // namespace

SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& source) {
  SentencePieceModel model;
  model.source = source;
  TrainerSpec trainer;
  SentencePieceModel::Normalizer denormalizer;
  bool has_denormalizer = false;

  WireReader in(bytes, source, "ModelProto", 0);
  while (!in.done()) {
    const Field field = in.next();
    switch (field.number) {
      case 1: {
        in.expect(field, kLengthDelimited, "pieces");
        SentencePieceModel::Piece piece;
        parse_pieces_message(source, field.bytes, in.payload_offset(field), model.pieces.size(),
                             &piece);
        model.pieces.push_back(std::move(piece));
        break;
      }
      case 2:
        in.expect(field, kLengthDelimited, "trainer_spec");
        parse_trainer_spec(source, field.bytes, in.payload_offset(field), &trainer);
        break;
      case 3:
        in.expect(field, kLengthDelimited, "normalizer_spec");
        parse_normalizer_spec(source, field.bytes, in.payload_offset(field), "normalizer_spec",
                              &model.normalizer);
        break;
      case 5:
        in.expect(field, kLengthDelimited, "denormalizer_spec");
        parse_normalizer_spec(source, field.bytes, in.payload_offset(field), "denormalizer_spec",
                              &denormalizer);
        has_denormalizer = true;
        break;
      default:
        break;
    }
  }

  SLIM_CHECK(!model.pieces.empty(), source, ": ModelProto has no pieces (is this a SentencePiece ",
             "tokenizer.model?)");
  SLIM_CHECK(trainer.model_type == 1 || trainer.model_type == 2, source,
             ": ModelProto.trainer_spec.model_type is ", trainer.model_type,
             trainer.model_type == 3   ? " (WORD)"
             : trainer.model_type == 4 ? " (CHAR)"
                                       : "",
             "; only UNIGRAM (1) and BPE (2) models are supported");
  model.algorithm = static_cast<SentencePieceAlgorithm>(trainer.model_type);
  model.byte_fallback = trainer.byte_fallback;
  model.treat_whitespace_as_suffix = trainer.treat_whitespace_as_suffix;
  model.unk_surface = trainer.unk_surface;
  if (has_denormalizer && !denormalizer.precompiled_charsmap.empty()) {
    spdlog::warn("{}: the denormalizer spec ({}) is not supported and is ignored", source,
                 denormalizer.name.empty() ? "unnamed" : denormalizer.name);
  }

  std::optional<TokenId> unk;
  for (size_t i = 0; i < model.pieces.size(); ++i) {
    if (model.pieces[i].type != PieceType::kUnknown) continue;
    SLIM_CHECK(!unk, source, ": pieces ", *unk, " and ", i, " are both of type UNKNOWN");
    unk = static_cast<TokenId>(i);
  }
  SLIM_CHECK(unk.has_value(), source, ": no piece has type UNKNOWN (the unk piece is required)");
  model.unk_id = unk;
  model.bos_id = find_piece(model, trainer.bos_piece, PieceType::kControl);
  model.eos_id = find_piece(model, trainer.eos_piece, PieceType::kControl);
  model.pad_id = find_piece(model, trainer.pad_piece, PieceType::kControl);
  return model;
}

SentencePieceModel read_sentencepiece_model(const std::string& path) {
  return parse_sentencepiece_model(read_file(path), path);
}

// ------------------------------------------------------------------------------------- GGUF

SentencePieceModel sentencepiece_model_from_gguf(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  SentencePieceModel model;
  model.source = path;

  const std::string kind = gguf.get_string("tokenizer.ggml.model");
  TokenId default_unk = 0;
  std::optional<TokenId> default_bos, default_eos, default_pad;
  if (kind == "llama") {
    model.algorithm = SentencePieceAlgorithm::kBpe;
    default_unk = 0, default_bos = 1, default_eos = 2;
    model.normalizer.add_dummy_prefix = true;
  } else if (kind == "t5") {
    model.algorithm = SentencePieceAlgorithm::kUnigram;
    default_unk = 2, default_eos = 1, default_pad = 0;
    model.normalizer.add_dummy_prefix = false;
  } else {
    SLIM_FAIL(path, ": tokenizer.ggml.model is ", quote(kind),
              ", not a SentencePiece vocabulary ('llama' or 't5')");
  }
  model.normalizer.name = "gguf";
  model.normalizer.remove_extra_whitespaces = false;
  model.normalizer.escape_whitespaces = true;
  if (auto v = gguf.get_bool_opt("tokenizer.ggml.add_space_prefix"))
    model.normalizer.add_dummy_prefix = *v;
  if (auto v = gguf.get_bool_opt("tokenizer.ggml.remove_extra_whitespaces"))
    model.normalizer.remove_extra_whitespaces = *v;
  if (gguf.contains("tokenizer.ggml.precompiled_charsmap")) {
    const auto bytes = gguf.get_array_u8("tokenizer.ggml.precompiled_charsmap");
    model.normalizer.precompiled_charsmap.assign(bytes.begin(), bytes.end());
  }

  const auto tokens = gguf.get_array_strings("tokenizer.ggml.tokens");
  SLIM_CHECK(!tokens.empty(), path, ": tokenizer.ggml.tokens is empty");
  std::vector<float> scores(tokens.size(), 0.0f);
  if (gguf.contains("tokenizer.ggml.scores")) {
    scores = gguf.get_array_f32("tokenizer.ggml.scores");
    SLIM_CHECK(scores.size() == tokens.size(), path, ": tokenizer.ggml.scores has ", scores.size(),
               " entries but tokenizer.ggml.tokens has ", tokens.size());
  }
  std::vector<int64_t> types(tokens.size(), static_cast<int64_t>(PieceType::kNormal));
  const bool has_types = gguf.contains("tokenizer.ggml.token_type");
  if (has_types) {
    types = gguf.get_array_int("tokenizer.ggml.token_type");
    SLIM_CHECK(types.size() == tokens.size(), path, ": tokenizer.ggml.token_type has ",
               types.size(), " entries but tokenizer.ggml.tokens has ", tokens.size());
  }
  model.pieces.resize(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    SLIM_CHECK(types[i] >= 1 && types[i] <= 6, path, ": tokenizer.ggml.token_type[", i, "] is ",
               types[i], ", not a token type (1 normal .. 6 byte)");
    model.pieces[i] = {tokens[i], scores[i], static_cast<PieceType>(types[i])};
    if (model.pieces[i].type == PieceType::kByte) model.byte_fallback = true;
  }

  const auto special = [&](const char* key, std::optional<TokenId> fallback) {
    const auto value = gguf.get_int_opt(key);
    if (!value) return fallback;
    SLIM_CHECK(*value >= 0 && *value < static_cast<int64_t>(tokens.size()), path, ": ", key, " is ",
               *value, ", outside the ", tokens.size(), "-token vocabulary");
    return std::optional<TokenId>(static_cast<TokenId>(*value));
  };
  model.unk_id = special("tokenizer.ggml.unknown_token_id", default_unk);
  model.bos_id = special("tokenizer.ggml.bos_token_id", default_bos);
  model.eos_id = special("tokenizer.ggml.eos_token_id", default_eos);
  model.pad_id = special("tokenizer.ggml.padding_token_id", default_pad);
  if (!has_types && *model.unk_id < static_cast<TokenId>(model.pieces.size()))
    model.pieces[*model.unk_id].type = PieceType::kUnknown;
  model.add_bos = gguf.get_bool_opt("tokenizer.ggml.add_bos_token");
  model.add_eos = gguf.get_bool_opt("tokenizer.ggml.add_eos_token");
  return model;
}

}  // namespace slim::io
