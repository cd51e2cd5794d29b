// SentencePiece tokenizers (tokenizer.model), natively: no libsentencepiece, no protobuf library.
//
// A SentencePieceModel describes a tokenizer: its pieces (string, score, type), the algorithm
// (BPE or unigram), byte fallback, the special ids and the normalizer. It comes from a
// `tokenizer.model` file (the ModelProto of sentencepiece_model.proto, read from the protobuf
// wire format directly) or from a GGUF vocabulary (llama.cpp's tokenizer.ggml.* keys), and
// SentencePieceTokenizer encodes and decodes with it the way SentencePiece's
// SentencePieceProcessor does (Encode / DecodeIds), so ids match the reference library.
//
// Supported: BPE and unigram models; NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED and BYTE
// pieces; byte fallback; the precompiled normalization charsmap (e.g. nmt_nfkc), identity
// normalization, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces and
// treat_whitespace_as_suffix. Not supported: WORD and CHAR models (refused with an error),
// sampling (subword regularization), the denormalizer spec (ignored with a warning).
//
// Invalid UTF-8 in input text never fails: as in SentencePiece, each byte that does not start a
// valid UTF-8 sequence is replaced by U+FFFD during normalization (and then encoded like any
// other character: its piece, byte fallback, or unk). Decoding byte pieces that do not form valid
// UTF-8 gives one U+FFFD per invalid byte.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "slim/io/tokenizer/tokenizer.h"

namespace slim::io {

class GgufFile;

// Numbering of sentencepiece_model.proto (ModelProto.SentencePiece.Type), also used by GGUF's
// tokenizer.ggml.token_type.
enum class PieceType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Numbering of TrainerSpec.ModelType.
enum class SentencePieceAlgorithm : int32_t {
  kUnigram = 1,
  kBpe = 2,
};

struct SentencePieceModel {
  struct Piece {
    std::string piece;
    float score = 0.0f;
    PieceType type = PieceType::kNormal;
  };
  struct Normalizer {
    std::string name;                  // "nmt_nfkc", "identity", ... (informational)
    std::string precompiled_charsmap;  // empty: no character replacement
    bool add_dummy_prefix = true;
    bool remove_extra_whitespaces = true;
    bool escape_whitespaces = true;
  };

  std::string source;  // the file it came from, for messages
  std::vector<Piece> pieces;
  SentencePieceAlgorithm algorithm = SentencePieceAlgorithm::kUnigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  std::optional<TokenId> unk_id;
  std::optional<TokenId> bos_id;
  std::optional<TokenId> eos_id;
  std::optional<TokenId> pad_id;
  std::string unk_surface = " \xE2\x81\x87 ";  // what DecodeIds writes for unk (" ⁇ ")
  Normalizer normalizer;
  // The source's own preference (GGUF's tokenizer.ggml.add_bos_token / add_eos_token), used when
  // the factory is not told.
  std::optional<bool> add_bos;
  std::optional<bool> add_eos;
};

// Parses a serialized ModelProto. `source` names it in messages. Throws slim::Error naming the
// source and the field on malformed input, unsupported models, or pieces SentencePiece would
// refuse (empty or duplicate pieces, no unk piece, byte pieces without byte_fallback, ...).
SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& source);
// Reads and parses a tokenizer.model file.
SentencePieceModel read_sentencepiece_model(const std::string& path);
// From a GGUF vocabulary: tokenizer.ggml.model "llama" (BPE) or "t5" (unigram), tokens, scores,
// token_type, special ids, add_space_prefix, remove_extra_whitespaces, precompiled_charsmap,
// add_bos_token / add_eos_token. Defaults follow llama.cpp.
SentencePieceModel sentencepiece_model_from_gguf(const GgufFile& gguf);
// The inverse of parse_sentencepiece_model: a serialized ModelProto (tokenizer.model) holding the
// pieces, trainer_spec (model type, vocab size, byte fallback, whitespace suffix, special ids and
// their pieces, unk surface) and normalizer_spec, which both parse_sentencepiece_model and
// SentencePiece itself read back as the same tokenizer. Throws slim::Error for models SentencePiece
// would refuse (no unk piece, empty or duplicate pieces). In sentencepiece_writer.cpp.
std::string serialize_sentencepiece_model(const SentencePieceModel& model);

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Validates the model (throws slim::Error naming model.source). With `add_bos`/`add_eos`,
  // encode(text, true) puts BOS first / EOS last when the model has them.
  SentencePieceTokenizer(SentencePieceModel model, bool add_bos, bool add_eos);
  ~SentencePieceTokenizer() override;

  // Control and user-defined tokens written in the text are not recognized as special (as in
  // SentencePiece): "<s>" is encoded as ordinary text; user-defined pieces are always kept whole.
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = true) const override;
  // As SentencePiece's DecodeIds: control tokens decode to nothing, unk to the unk surface
  // (" ⁇ "), byte pieces are reassembled into UTF-8, "▁" becomes a space and the leading space
  // the dummy prefix added is removed. With `skip_special_tokens`, unk tokens are left out too.
  // Throws slim::Error for ids outside the vocabulary.
  std::string decode(const std::vector<TokenId>& ids,
                     bool skip_special_tokens = false) const override;
  int64_t vocab_size() const override;
  std::optional<TokenId> token_to_id(const std::string& token) const override;
  std::string id_to_token(TokenId id) const override;
  // Control and unknown pieces.
  bool is_special(TokenId id) const override;

  // The normalized text the algorithm sees ("▁Hello▁world"), and the pieces of an encoding.
  std::string normalize(std::string_view text) const;
  std::vector<std::string> encode_pieces(std::string_view text) const;
  const SentencePieceModel& model() const;
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool add_bos_ = true;
  bool add_eos_ = false;
};

// `add_bos` / `add_eos` (e.g. from tokenizer_config.json) override the model's own preference;
// the defaults are BOS on, EOS off, as Llama's tokenizer does.
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path,
                                              std::optional<bool> add_bos = std::nullopt,
                                              std::optional<bool> add_eos = std::nullopt);
std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(SentencePieceModel model,
                                                        std::optional<bool> add_bos = std::nullopt,
                                                        std::optional<bool> add_eos = std::nullopt);

}  // namespace slim::io
