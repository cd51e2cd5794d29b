// Tokenizers of real checkpoints, natively: Hugging Face tokenizer.json (BPE byte-level and
// SentencePiece-style, WordPiece) and SentencePiece tokenizer.model (BPE and unigram).
//
// Invalid UTF-8 in input text: byte-level BPE encodes the raw bytes as they are (every byte has a
// token); the other models replace each invalid byte by U+FFFD before encoding.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slim::io {

using TokenId = int32_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text -> ids. With `add_special_tokens`, the post-processor's template applies (BOS/EOS as
  // configured by tokenizer.json / tokenizer_config.json).
  virtual std::vector<TokenId> encode(std::string_view text,
                                      bool add_special_tokens = true) const = 0;
  // Ids -> text. With `skip_special_tokens`, special tokens are left out.
  virtual std::string decode(const std::vector<TokenId>& ids,
                             bool skip_special_tokens = false) const = 0;
  // Encodes many texts on the intra-op thread pool; result i belongs to texts[i].
  std::vector<std::vector<TokenId>> encode_batch(const std::vector<std::string>& texts,
                                                 bool add_special_tokens = true) const;

  // Number of ids (base vocabulary plus added tokens), i.e. one past the largest id.
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<TokenId> token_to_id(const std::string& token) const = 0;
  // The token's string as stored in the vocabulary; "" for an unknown id.
  virtual std::string id_to_token(TokenId id) const = 0;
  virtual bool is_special(TokenId id) const = 0;

  std::optional<TokenId> bos_id() const { return bos_id_; }
  std::optional<TokenId> eos_id() const { return eos_id_; }
  std::optional<TokenId> pad_id() const { return pad_id_; }

 protected:
  std::optional<TokenId> bos_id_;
  std::optional<TokenId> eos_id_;
  std::optional<TokenId> pad_id_;
};

// `path` is a directory holding tokenizer.json (preferred) or tokenizer.model, one of those
// files, or a .gguf file (its vocabulary rebuilt as slim/io/tokenizer/gguf_tokenizer.h does).
// tokenizer_config.json beside it, when present, supplies bos/eos tokens and add_bos_token /
// add_eos_token. Throws slim::Error naming the file and key on anything unsupported or malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace slim::io
